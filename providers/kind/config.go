package kind

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kind/host"
)

var (
	nodeType = cty.Object(map[string]cty.Type{"role": cty.String})
	portType = cty.ObjectWithOptionalAttrs(map[string]cty.Type{
		"container_port": cty.Number,
		"host_port":      cty.Number,
		"listen_address": cty.String,
		"protocol":       cty.String,
	}, []string{"host_port", "listen_address", "protocol"})
)

func schema() hcldec.Spec {
	return &hcldec.ObjectSpec{
		"name":                &hcldec.AttrSpec{Name: "name", Type: cty.String, Required: true},
		"runtime":             &hcldec.AttrSpec{Name: "runtime", Type: cty.String},
		"node_image":          &hcldec.AttrSpec{Name: "node_image", Type: cty.String},
		"nodes":               &hcldec.AttrSpec{Name: "nodes", Type: cty.List(nodeType)},
		"extra_port_mappings": &hcldec.AttrSpec{Name: "extra_port_mappings", Type: cty.List(portType)},
		"api_server_port":     &hcldec.AttrSpec{Name: "api_server_port", Type: cty.Number},
		"wait":                &hcldec.AttrSpec{Name: "wait", Type: cty.String},
		"kubeconfig_path":     &hcldec.AttrSpec{Name: "kubeconfig_path", Type: cty.String},
	}
}

// Runtimes a kind_cluster can ask for.
const (
	Auto      = "auto"
	Docker    = "docker"
	Podman    = "podman"
	Simulated = "simulated"
)

type portMapping struct {
	ContainerPort int32
	HostPort      int32
	ListenAddress string
	Protocol      string
}

// config is a kind_cluster block, validated and with defaults applied.
type config struct {
	Name      string
	Runtime   string
	NodeImage string
	Roles     []string // one per node; [control-plane] by default
	Ports     []portMapping
	// APIServerPort is the API server's host port; 0 lets kind pick a
	// free one.
	APIServerPort int32
	Wait          time.Duration
	Kubeconfig    string // kubeconfig_path; "" means the default file
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// readConfig checks a kind_cluster block's arguments and reports every
// problem (errors.Join). An argument not known yet is skipped: Validate
// sees those, Plan and Apply never do.
func readConfig(v cty.Value) (config, error) {
	c := config{
		NodeImage:  resource.StringAttr(v, "node_image"),
		Kubeconfig: resource.StringAttr(v, "kubeconfig_path"),
	}
	var errs [6]error
	c.Name, errs[0] = nameArg(v)
	c.Runtime, errs[1] = runtimeArg(v)
	c.Wait, errs[2] = waitArg(v)
	c.Roles, errs[3] = nodesArg(v)
	c.APIServerPort, errs[4] = apiServerPortArg(v)
	c.Ports, errs[5] = portsArg(v)
	return c, errors.Join(errs[:]...)
}

func nameArg(v cty.Value) (string, error) {
	name := resource.StringAttr(v, "name")
	if !resource.Unknown(v, "name") && (!nameRE.MatchString(name) || len(name) > 50) {
		return name, resource.ArgErrorf("name", "name %q is not a valid kind cluster name: use lower-case letters, digits and '-', at most 50 characters", name)
	}
	return name, nil
}

// runtimeArg reads the runtime; auto when not set.
func runtimeArg(v cty.Value) (string, error) {
	r := resource.StringAttr(v, "runtime")
	switch {
	case resource.Unknown(v, "runtime"):
	case r == "":
		return Auto, nil
	case r != Auto && r != Docker && r != Podman && r != Simulated:
		return r, resource.ArgErrorf("runtime", "runtime %q is not one of auto, docker, podman, simulated", r)
	}
	return r, nil
}

// waitArg reads how long to wait for the cluster; 5m when not set.
func waitArg(v cty.Value) (time.Duration, error) {
	if resource.Unknown(v, "wait") {
		return 0, nil
	}
	wait := resource.StringAttr(v, "wait")
	if wait == "" {
		wait = "5m"
	}
	d, err := time.ParseDuration(wait)
	if err != nil || d <= 0 {
		return 0, resource.ArgErrorf("wait", "wait %q is not a positive duration like \"5m\" or \"90s\"", wait)
	}
	return d, nil
}

// nodesArg reads the node roles; one control-plane node when not set.
func nodesArg(v cty.Value) ([]string, error) {
	var roles []string
	var errs []error
	allKnown := !resource.Unknown(v, "nodes")
	for i, n := range resource.ListAttr(v, "nodes") {
		if resource.Unknown(n, "role") {
			allKnown = false
			continue
		}
		role := resource.StringAttr(n, "role")
		if role != string(v1alpha4.ControlPlaneRole) && role != string(v1alpha4.WorkerRole) {
			errs = append(errs, resource.ArgErrorf("nodes", "nodes[%d].role %q is not control-plane or worker", i, role))
			continue
		}
		roles = append(roles, role)
	}
	if len(roles) == 0 && len(errs) == 0 && allKnown {
		roles = []string{string(v1alpha4.ControlPlaneRole)}
	}
	if allKnown && len(errs) == 0 && !slices.Contains(roles, string(v1alpha4.ControlPlaneRole)) {
		errs = append(errs, resource.ArgErrorf("nodes", "nodes has no control-plane node; kind needs at least one"))
	}
	return roles, errors.Join(errs...)
}

func apiServerPortArg(v cty.Value) (int32, error) {
	if resource.Unknown(v, "api_server_port") {
		return 0, nil
	}
	api := resource.IntAttr(v, "api_server_port")
	if api < 0 || api > 65535 {
		return 0, resource.ArgErrorf("api_server_port", "api_server_port must be a whole number within 1-65535 (leave it out, or 0, and kind picks a free port)")
	}
	return int32(api), nil
}

func portsArg(v cty.Value) ([]portMapping, error) {
	var ports []portMapping
	var errs []error
	for i, p := range resource.ListAttr(v, "extra_port_mappings") {
		pm := portMapping{
			ContainerPort: int32(resource.IntAttr(p, "container_port")),
			HostPort:      int32(resource.IntAttr(p, "host_port")),
			ListenAddress: resource.StringAttr(p, "listen_address"),
			Protocol:      strings.ToUpper(resource.StringAttr(p, "protocol")),
		}
		badContainer := !resource.Unknown(p, "container_port") && (pm.ContainerPort < 1 || pm.ContainerPort > 65535)
		badHost := !resource.Unknown(p, "host_port") && (pm.HostPort < 0 || pm.HostPort > 65535)
		if badContainer || badHost {
			errs = append(errs, resource.ArgErrorf("extra_port_mappings", "extra_port_mappings[%d]: ports must be within 1-65535 (host_port 0 picks a free one)", i))
		}
		if pm.ListenAddress == "" {
			pm.ListenAddress = "0.0.0.0" // kind's default
		}
		switch {
		case resource.Unknown(p, "protocol"):
		case pm.Protocol == "":
			pm.Protocol = "TCP"
		case pm.Protocol != "TCP" && pm.Protocol != "UDP" && pm.Protocol != "SCTP":
			errs = append(errs, resource.ArgErrorf("extra_port_mappings", "extra_port_mappings[%d].protocol %q is not TCP, UDP or SCTP", i, pm.Protocol))
		}
		ports = append(ports, pm)
	}
	return ports, errors.Join(errs...)
}

// kindConfig is the v1alpha4 cluster kind creates: the nodes in order,
// each with the node image, and the port mappings on the first
// control-plane node (where kind's docs put them). On a cgroup v1 host
// the kubelet is told to run anyway (it refuses from 1.35 on).
func (c config) kindConfig(image string, cgroupV1 bool) *v1alpha4.Cluster {
	cl := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name:     c.Name,
	}
	cl.Networking.APIServerPort = c.APIServerPort
	if cgroupV1 {
		cl.KubeadmConfigPatches = append(cl.KubeadmConfigPatches, host.CgroupV1Patch)
	}
	mapped := false
	for _, r := range c.Roles {
		n := v1alpha4.Node{Role: v1alpha4.NodeRole(r), Image: image}
		if r == string(v1alpha4.ControlPlaneRole) && !mapped {
			mapped = true
			for _, p := range c.Ports {
				n.ExtraPortMappings = append(n.ExtraPortMappings, v1alpha4.PortMapping{
					ContainerPort: p.ContainerPort,
					HostPort:      p.HostPort,
					ListenAddress: p.ListenAddress,
					Protocol:      v1alpha4.PortMappingProtocol(p.Protocol),
				})
			}
		}
		cl.Nodes = append(cl.Nodes, n)
	}
	v1alpha4.SetDefaultsCluster(cl)
	return cl
}

// String renders the node roles for diffs: "control-plane, worker".
func rolesString(roles []string) string { return strings.Join(roles, ", ") }

func portsString(ps []portMapping) string {
	var s []string
	for _, p := range ps {
		addr := p.ListenAddress
		if addr == "" {
			addr = "0.0.0.0"
		}
		s = append(s, fmt.Sprintf("%s:%d->%d/%s", addr, p.HostPort, p.ContainerPort, p.Protocol))
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}
