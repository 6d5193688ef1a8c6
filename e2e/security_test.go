package e2e

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"labs.dev/lab/providers/simulated/simtest"
)

const secretLab = `variable "kubeconfig" {}
variable "context" {}
variable "secret" {
  type      = string
  sensitive = true
}

resource "namespace" "sec" {
  name       = "lab-sec"
  labels     = { token = var.secret }
  kubeconfig = var.kubeconfig
  context    = var.context
}

resource "helm_release" "sec" {
  name       = "sec"
  namespace  = namespace.sec.name
  chart      = "charts/sec"
  values     = { password = var.secret, plain = "visible" }
  wait       = false
  kubeconfig = var.kubeconfig
  context    = var.context
}

resource "manifest" "sec" {
  content    = yamlencode({ apiVersion = "v1", kind = "ConfigMap", metadata = { name = "sec", namespace = namespace.sec.name }, data = { token = var.secret } })
  kubeconfig = var.kubeconfig
  context    = var.context
}

output "token" {
  value     = var.secret
  sensitive = true
}

output "derived" {
  value = "token-${var.secret}"
}
`

// TestSensitiveNeverShown puts a sensitive variable into a namespace
// label, a helm value and a ConfigMap, then runs every command that shows
// values — plan (text, JSON, saved), up, output, status, debug logs — on
// create and on an update that changes it, and greps all they print.
func TestSensitiveNeverShown(t *testing.T) {
	bin := simtest.LabBinaries(t)
	cl := simtest.Get(t)
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "charts", "sec", "templates"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "labs.hcl"), []byte(secretLab), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "charts", "sec", "Chart.yaml"), []byte("apiVersion: v2\nname: sec\nversion: 0.1.0\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "charts", "sec", "templates", "secret.yaml"), []byte(
		"apiVersion: v1\nkind: Secret\nmetadata:\n  name: sec-helm\nstringData:\n  password: {{ .Values.password | quote }}\n  plain: {{ .Values.plain | quote }}\n"), 0o644))

	secrets := []string{"s3cr3t-first-value", "s3cr3t-second-value"}
	runs := 0
	lab := func(ok bool, secret string, env []string, args ...string) string {
		t.Helper()
		runs++
		cmdName := args[0]
		if cmdName == "-o" {
			cmdName = args[2]
		}
		switch cmdName {
		case "apply": // the saved plan holds the values
		default:
			args = append(args, "-var", "kubeconfig="+cl.Kubeconfig, "-var", "context="+cl.Context, "-var", "secret="+secret)
		}
		cmd := exec.Command(filepath.Join(bin, "lab"), args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), append([]string{"NO_COLOR=1", "LAB_BIN_DIR=" + bin, "KUBECONFIG=" + cl.Kubeconfig, "HOME=" + dir}, env...)...)
		out, err := cmd.CombinedOutput()
		if ok && err != nil {
			t.Fatalf("lab %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		for _, s := range secrets {
			if bytes.Contains(out, []byte(s)) {
				t.Errorf("lab %s shows the sensitive value %q:\n%s", args[0], s, out)
			}
		}
		return string(out)
	}
	t.Cleanup(func() { lab(false, secrets[1], nil, "down") })
	debug := []string{"LAB_LOG=debug"}

	for i, s := range secrets {
		lab(true, s, nil, "plan")
		lab(true, s, nil, "-o", "json", "plan")
		lab(true, s, debug, "plan", "-out", "saved.plan")
		lab(true, s, debug, "apply", "saved.plan")
		lab(true, s, debug, "-o", "json", "up")
		lab(true, s, nil, "output")
		lab(true, s, nil, "-o", "json", "output")
		lab(true, s, nil, "output", "token")
		lab(true, s, nil, "status")
		if i == 0 {
			// The update must show which fields change, values hidden.
			out := lab(true, secrets[1], nil, "plan")
			for _, field := range []string{`labels["token"]: (sensitive) → (sensitive)`, "values.password: (sensitive) → (sensitive)", "data.token: (sensitive) → (sensitive)"} {
				if !strings.Contains(out, field) {
					t.Errorf("plan of the changed secret does not show %s:\n%s", field, out)
				}
			}
			lab(true, secrets[1], debug, "-o", "json", "plan")
		}
	}
	t.Logf("%d lab runs, every output grepped for %d sensitive values", runs, len(secrets))

	// What lab writes that holds values or credentials is private.
	for _, p := range []string{".lab", ".lab/state.json", ".lab/state.json.backup", "saved.plan"} {
		private(t, filepath.Join(dir, p))
	}
}

// TestClusterFilesPrivate: the simulated cluster's PKI, kubeconfig, data,
// logs and PIDs (what kind_cluster makes under .lab/clusters/<name>) and
// the kubeconfig it merges its context into are readable by the owner only.
func TestClusterFilesPrivate(t *testing.T) {
	cl := simtest.Get(t)
	private(t, cl.Kubeconfig)
	n := 0
	err := filepath.WalkDir(cl.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 || d.Type()&fs.ModeSocket != 0 {
			return err
		}
		n++
		private(t, p)
		return nil
	})
	must(t, err)
	t.Logf("%d files and directories under the cluster directory, all private", n)
}

func private(t *testing.T, p string) {
	t.Helper()
	info, err := os.Stat(p)
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	if info.Mode().Perm()&0o077 != 0 {
		t.Errorf("%s is mode %v; it must be readable by its owner only (0600, 0700 for directories)", p, info.Mode().Perm())
	}
}

// TestNoShell: lab runs programs only from the places below, never a
// shell, so no user input is ever interpreted by one. A new exec.Command
// elsewhere fails this test until it is reviewed and listed. The one
// exception is lab doc test, whose job is to run the commands a lesson
// tells a learner to type: it runs them in bash, listed in runsShell.
func TestNoShell(t *testing.T) {
	allowed := map[string]string{
		"providers/kind/engine.go":                "docker/podman info, a fixed argument list",
		"providers/kind/host/host.go":             "docker/podman info and inspect; the only input is an image reference, passed as one argument after --type=image",
		"providers/simulated/process.go":          "the control-plane binaries from the pinned build",
		"providers/helm/serve.go":                 "lab-helm -serve, with requests on its stdin",
		"providers/simulated/simtest/simtest.go":  "test harness only: the test binary itself, as the teardown watchdog, and go build for the lab binaries",
		"providers/kind/enginetest/enginetest.go": "test harness only: podman/docker with a test's own arguments, apt-get installing fixed packages, bash on the repository's tools/nodeimage/build.sh",
		"providers/kind/enginetest/docker.go":     "test harness only: a private dockerd with fixed arguments",
		"lab/lesson/shell.go":                     "lab doc test: bash, for the lesson's commands",
		"lab/verify/verifytest/verifytest.go":     "test harness only: kubectl and the lab binary with a test's own arguments",
		"bench/peak/main.go":                      "benchmark tool: the command line it is given, as time(1) runs it",
	}
	runsShell := map[string]string{
		"providers/kind/enginetest/enginetest.go": "the repository's own tools/nodeimage/build.sh, no input from a user",
		"lab/lesson/shell.go":                     "the commands of a lesson the user names on the command line, as a learner would type them; no terminal, stdin /dev/null, its own session, killed with its process group",
	}
	shells := map[string]bool{"sh": true, "bash": true, "/bin/sh": true, "/bin/bash": true, "zsh": true, "dash": true, "cmd": true, "cmd.exe": true, "powershell": true, "pwsh": true}
	root := ".."
	calls := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "tools" || strings.HasPrefix(d.Name(), ".")) && p != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			if !ok || !(pkg.Name == "exec" && (sel.Sel.Name == "Command" || sel.Sel.Name == "CommandContext") || pkg.Name == "syscall" && sel.Sel.Name == "Exec") {
				return true
			}
			calls++
			if _, ok := allowed[filepath.ToSlash(rel)]; !ok {
				t.Errorf("%s runs a program (%s.%s); review that no user input reaches a shell and list it in TestNoShell", rel, pkg.Name, sel.Sel.Name)
			}
			for _, a := range call.Args {
				if lit, ok := a.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, _ := strconv.Unquote(lit.Value); (shells[s] || s == "-c") && runsShell[filepath.ToSlash(rel)] == "" {
						t.Errorf("%s: %s.%s runs a shell (%q)", rel, pkg.Name, sel.Sel.Name, s)
					}
				}
			}
			return true
		})
		return nil
	})
	must(t, err)
	if calls == 0 {
		t.Fatal("found no exec calls at all; is the walk looking at the module?")
	}
	t.Logf("%d places run a program, none a shell", calls)
}
