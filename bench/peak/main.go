// Command peak runs a command and reports, as one JSON line on stderr,
// its wall time, the peak of the summed RSS of its whole process tree
// (the command and every process under it, e.g. lab and its lab-helm
// worker), and the most processes of each name alive at once.
//
//	peak [-every 20ms] [-o FILE] -- lab up
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	every := flag.Duration("every", 20*time.Millisecond, "how often to sample /proc")
	out := flag.String("o", "", "write the report here instead of stderr")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: peak [-every D] [-o FILE] -- COMMAND [ARG...]")
		os.Exit(2)
	}
	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "peak:", err)
		os.Exit(2)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peakKiB int64
	most := map[string]int{}
	peakBy := map[string]int64{}
	tick := time.NewTicker(*every)
	defer tick.Stop()
	var err error
loop:
	for {
		select {
		case err = <-done:
			break loop
		case <-tick.C:
			kib, count, by := sample(cmd.Process.Pid)
			peakKiB = max(peakKiB, kib)
			for name, n := range count {
				most[name] = max(most[name], n)
			}
			for name, k := range by {
				peakBy[name] = max(peakBy[name], k)
			}
		}
	}
	byMiB := map[string]float64{}
	for name, k := range peakBy {
		byMiB[name] = float64(k) / 1024
	}
	report, _ := json.Marshal(map[string]any{
		"seconds":              time.Since(start).Seconds(),
		"peak_rss_mib":         float64(peakKiB) / 1024,
		"peak_rss_mib_by_name": byMiB,
		"most_at_once":         most,
		"exit_code":            cmd.ProcessState.ExitCode(),
	})
	if *out != "" {
		_ = os.WriteFile(*out, append(report, '\n'), 0o644)
	} else {
		fmt.Fprintln(os.Stderr, string(report))
	}
	if err != nil {
		os.Exit(cmd.ProcessState.ExitCode())
	}
}

// sample sums VmRSS over root and its descendants, and counts and sums
// them by name.
func sample(root int) (int64, map[string]int, map[string]int64) {
	parent := map[int]int{}
	name := map[int]string{}
	rss := map[int]int64{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/status")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		pid, _ := strconv.Atoi(strings.Split(d, "/")[2])
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			v = strings.TrimSpace(v)
			switch k {
			case "Name":
				name[pid] = v
			case "PPid":
				parent[pid], _ = strconv.Atoi(v)
			case "VmRSS":
				n, _ := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
				rss[pid] = n
			}
		}
	}
	in := func(pid int) bool {
		for p := pid; p > 1; p = parent[p] {
			if p == root {
				return true
			}
		}
		return false
	}
	var sum int64
	count := map[string]int{}
	by := map[string]int64{}
	for pid := range name {
		if in(pid) {
			sum += rss[pid]
			count[name[pid]]++
			by[name[pid]] += rss[pid]
		}
	}
	return sum, count, by
}
