package kind

import (
	"fmt"
	"regexp"
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

func readConfig(addr resource.Addr, v cty.Value) (config, error) {
	c := config{
		Name:       resource.StringAttr(v, "name"),
		Runtime:    resource.StringAttr(v, "runtime"),
		NodeImage:  resource.StringAttr(v, "node_image"),
		Kubeconfig: resource.StringAttr(v, "kubeconfig_path"),
	}
	if !nameRE.MatchString(c.Name) || len(c.Name) > 50 {
		return c, fmt.Errorf("%s: name %q is not a valid kind cluster name: use lower-case letters, digits and '-', at most 50 characters", addr, c.Name)
	}
	switch c.Runtime {
	case "":
		c.Runtime = Auto
	case Auto, Docker, Podman, Simulated:
	default:
		return c, fmt.Errorf("%s: runtime %q is not one of auto, docker, podman, simulated", addr, c.Runtime)
	}
	wait := resource.StringAttr(v, "wait")
	if wait == "" {
		wait = "5m"
	}
	d, err := time.ParseDuration(wait)
	if err != nil || d <= 0 {
		return c, fmt.Errorf("%s: wait %q is not a positive duration like \"5m\" or \"90s\"", addr, wait)
	}
	c.Wait = d
	for i, n := range resource.ListAttr(v, "nodes") {
		role := resource.StringAttr(n, "role")
		if role != string(v1alpha4.ControlPlaneRole) && role != string(v1alpha4.WorkerRole) {
			return c, fmt.Errorf("%s: nodes[%d].role %q is not control-plane or worker", addr, i, role)
		}
		c.Roles = append(c.Roles, role)
	}
	if len(c.Roles) == 0 {
		c.Roles = []string{string(v1alpha4.ControlPlaneRole)}
	}
	cps := 0
	for _, r := range c.Roles {
		if r == string(v1alpha4.ControlPlaneRole) {
			cps++
		}
	}
	if cps == 0 {
		return c, fmt.Errorf("%s: nodes has no control-plane node; kind needs at least one", addr)
	}
	api := resource.IntAttr(v, "api_server_port")
	if api < 0 || api > 65535 {
		return c, fmt.Errorf("%s: api_server_port must be a whole number within 1-65535 (leave it out, or 0, and kind picks a free port)", addr)
	}
	c.APIServerPort = int32(api)
	for i, p := range resource.ListAttr(v, "extra_port_mappings") {
		pm := portMapping{
			ContainerPort: int32(resource.IntAttr(p, "container_port")),
			HostPort:      int32(resource.IntAttr(p, "host_port")),
			ListenAddress: resource.StringAttr(p, "listen_address"),
			Protocol:      strings.ToUpper(resource.StringAttr(p, "protocol")),
		}
		if pm.ContainerPort < 1 || pm.ContainerPort > 65535 || pm.HostPort < 0 || pm.HostPort > 65535 {
			return c, fmt.Errorf("%s: extra_port_mappings[%d]: ports must be within 1-65535 (host_port 0 picks a free one)", addr, i)
		}
		if pm.ListenAddress == "" {
			pm.ListenAddress = "0.0.0.0" // kind's default
		}
		switch pm.Protocol {
		case "":
			pm.Protocol = "TCP"
		case "TCP", "UDP", "SCTP":
		default:
			return c, fmt.Errorf("%s: extra_port_mappings[%d].protocol %q is not TCP, UDP or SCTP", addr, i, pm.Protocol)
		}
		c.Ports = append(c.Ports, pm)
	}
	return c, nil
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
