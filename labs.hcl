# The shipped workshop: the environment "Deploy a Fleet of Pods" assumes.
# `lab up` brings it up, `lab verify deploy-fleet` checks the learner's work,
# `lab down` removes it all.

variable "runtime" {
  description = "How to run the cluster: auto (kind when Docker or Podman answers, else simulated), docker, podman or simulated."
  type        = string
  default     = "auto"

  validation {
    condition     = contains(["auto", "docker", "podman", "simulated"], var.runtime)
    error_message = "runtime must be one of auto, docker, podman or simulated."
  }
}

variable "fleet_replicas" {
  description = "Replicas of the sample fleet in staging and test."
  type        = number
  default     = 2
}

resource "kind_cluster" "kind" {
  name    = "kind"
  runtime = var.runtime
}

locals {
  cluster = {
    kubeconfig = kind_cluster.kind.kubeconfig
    context    = kind_cluster.kind.context
  }
}

resource "namespace" "dev" {
  name       = "dev"
  kubeconfig = local.cluster.kubeconfig
  context    = local.cluster.context
}

resource "namespace" "staging" {
  name       = "staging"
  kubeconfig = local.cluster.kubeconfig
  context    = local.cluster.context
}

resource "namespace" "test" {
  name       = "test"
  kubeconfig = local.cluster.kubeconfig
  context    = local.cluster.context
}

resource "helm_release" "fleet_staging" {
  name       = "fleet"
  chart      = "charts/fleet"
  namespace  = namespace.staging.name
  values     = { replicas = var.fleet_replicas }
  kubeconfig = local.cluster.kubeconfig
  context    = local.cluster.context
}

resource "helm_release" "fleet_test" {
  name       = "fleet"
  chart      = "charts/fleet"
  namespace  = namespace.test.name
  values     = { replicas = var.fleet_replicas }
  kubeconfig = local.cluster.kubeconfig
  context    = local.cluster.context
}

output "context" {
  description = "The kubectl context of the workshop cluster."
  value       = kind_cluster.kind.context
}
