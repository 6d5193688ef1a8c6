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

# The workshop's cluster. Every namespace and release below lives in it:
# a lab file with one cluster says so once.
resource "kind_cluster" "kind" {
  name    = "kind"
  runtime = var.runtime
}

resource "namespace" "dev" {
  name = "dev"
}

resource "namespace" "staging" {
  name = "staging"
}

resource "namespace" "test" {
  name = "test"
}

resource "helm_release" "fleet_staging" {
  name      = "fleet"
  chart     = "charts/fleet"
  namespace = namespace.staging.name
  values    = { replicas = var.fleet_replicas }
}

resource "helm_release" "fleet_test" {
  name      = "fleet"
  chart     = "charts/fleet"
  namespace = namespace.test.name
  values    = { replicas = var.fleet_replicas }
}

output "context" {
  description = "The kubectl context of the workshop cluster."
  value       = kind_cluster.kind.context
}

# The lesson's task: a Deployment the learner writes. Each check states
# one requirement, so a mistake fails exactly the check it breaks.
lab "deploy-fleet" {
  title      = "Deploy a Fleet of Pods"
  solution   = "manifests/deploy-fleet/solution.yaml"
  namespaces = ["dev"]
  timeout    = "10s"
  task       = <<-EOT
    In the namespace dev, create a Deployment named fleet that:

      - runs at least 3 replicas,
      - uses the RollingUpdate strategy with maxSurge: 1, so a rollout
        never runs more than one extra pod,
      - has every replica available.

    Its pods must be managed by a ReplicaSet that the Deployment owns:
    no hand-made Pods or ReplicaSets.

    Write the manifest in a file, apply it with
    kubectl apply -f <file>, then check your work with
    lab verify deploy-fleet.
  EOT

  check "deployment" {
    select "fleet" {
      api_version = "apps/v1"
      kind        = "Deployment"
      namespace   = "dev"
      name        = "fleet"
      hint        = "Write a Deployment manifest with metadata.name: fleet and metadata.namespace: dev, then kubectl apply -f <file>. kubectl get deployments -A shows what exists."
    }
  }

  check "replicas" {
    select "fleet" {
      api_version = "apps/v1"
      kind        = "Deployment"
      namespace   = "dev"
      name        = "fleet"
    }
    assert {
      condition     = fleet.spec.replicas >= 3
      error_message = "fleet asks for ${actual} replica(s); the task asks for at least 3."
      hint          = "Set spec.replicas: 3 in your manifest and apply it again (or: kubectl scale deployment fleet -n dev --replicas=3)."
    }
  }

  check "rolling-update" {
    select "fleet" {
      api_version = "apps/v1"
      kind        = "Deployment"
      namespace   = "dev"
      name        = "fleet"
    }
    assert {
      condition     = fleet.spec.strategy.type == "RollingUpdate"
      error_message = "fleet uses the ${actual} strategy, which stops every old pod before starting new ones; the task asks for RollingUpdate."
      hint          = "Set spec.strategy.type: RollingUpdate and spec.strategy.rollingUpdate.maxSurge: 1 (Recreate takes no rollingUpdate block)."
    }
    assert {
      # Left out, maxSurge is the API server's 25%: one pod at 3 replicas,
      # so the value alone would pass a learner who never set it. kubectl
      # apply, apply --server-side and create all record what they sent.
      condition     = fleet.spec.strategy.type != "RollingUpdate" || written(fleet, "spec.strategy.rollingUpdate.maxSurge", "25%")
      error_message = "your manifest does not set maxSurge, so Kubernetes filled in its default, ${actual}: one extra pod at 3 replicas, but more from 5 replicas on. The task asks you to set maxSurge: 1 yourself."
      hint          = "Add maxSurge: 1 under spec.strategy.rollingUpdate in your manifest and apply it again."
    }
    assert {
      # A percentage counts too, rounded up as the Deployment controller
      # does: what matters is how many extra pods a rollout may start.
      condition     = fleet.spec.strategy.type != "RollingUpdate" || !written(fleet, "spec.strategy.rollingUpdate.maxSurge", "25%") || intorpercent(try(fleet.spec.strategy.rollingUpdate.maxSurge, "25%"), fleet.spec.replicas) == 1
      error_message = "maxSurge is ${actual}: with ${fleet.spec.replicas} replicas a rollout may start ${intorpercent(try(fleet.spec.strategy.rollingUpdate.maxSurge, "25%"), fleet.spec.replicas)} extra pod(s) at once; the task asks for exactly one."
      hint          = "Set spec.strategy.rollingUpdate.maxSurge: 1 and apply the manifest again."
    }
  }

  check "available" {
    select "fleet" {
      api_version = "apps/v1"
      kind        = "Deployment"
      namespace   = "dev"
      name        = "fleet"
    }
    # Right after kubectl apply the status still describes the previous
    # spec; it speaks for this one only once the controller has seen it.
    assert {
      condition     = try(fleet.status.observedGeneration, 0) >= fleet.metadata.generation
      error_message = "the Deployment controller has not caught up with your last change yet (it has seen generation ${actual} of ${fleet.metadata.generation})."
      hint          = "Wait a moment and run lab verify again; kubectl rollout status deployment fleet -n dev follows the rollout."
    }
    assert {
      condition     = try(fleet.status.updatedReplicas, 0) >= fleet.spec.replicas
      error_message = "the rollout is not finished: ${actual} of ${fleet.spec.replicas} replicas run the current pod template."
      hint          = "Watch it with kubectl rollout status deployment fleet -n dev. If it was paused, resume it: kubectl rollout resume deployment fleet -n dev; if it is stuck, kubectl describe deployment fleet -n dev says why."
    }
    assert {
      condition     = try(fleet.status.availableReplicas, 0) >= fleet.spec.replicas
      error_message = "${actual} of ${fleet.spec.replicas} replicas are available."
      hint          = "kubectl get pods -n dev shows which pods are not ready; kubectl describe pod <name> -n dev says why (a Pending pod cannot be placed on a node: check nodeSelector, tolerations and resource requests)."
    }
  }

  check "managed-pods" {
    select "fleet" {
      api_version = "apps/v1"
      kind        = "Deployment"
      namespace   = "dev"
      name        = "fleet"
    }
    select "replicasets" {
      api_version = "apps/v1"
      kind        = "ReplicaSet"
      namespace   = "dev"
    }
    select "pods" {
      api_version = "v1"
      kind        = "Pod"
      namespace   = "dev"
    }
    assert {
      condition     = length(owned(pods, owned(replicasets, fleet))) >= fleet.spec.replicas
      error_message = "fleet's ReplicaSet manages ${actual} pod(s), fewer than its ${fleet.spec.replicas} replicas."
      hint          = "kubectl get replicasets,pods -n dev --show-labels shows which ReplicaSet owns which pods; kubectl describe replicaset -n dev says why pods are missing."
    }
    assert {
      for_each      = replicasets
      condition     = length(try(each.value.metadata.ownerReferences, [])) > 0
      error_message = "ReplicaSet ${each.value.metadata.name} was made by hand (no Deployment owns it); the task asks for no hand-made ReplicaSets."
      hint          = "Delete it with kubectl delete replicaset ${each.value.metadata.name} -n dev; Deployment fleet makes and owns its own ReplicaSet."
    }
    assert {
      for_each      = pods
      condition     = length(try(each.value.metadata.ownerReferences, [])) > 0
      error_message = "Pod ${each.value.metadata.name} was made by hand (no ReplicaSet manages it); the task asks for no hand-made Pods."
      hint          = "Delete it with kubectl delete pod ${each.value.metadata.name} -n dev; fleet's ReplicaSet makes the pods."
    }
  }
}
