# A workshop of many learners on one cluster that already exists (EKS,
# or any cluster a kubeconfig context reaches): each learner of
# var.learners gets namespaces <learner>-dev, -staging and -test, a
# ServiceAccount allowed to work only there, a quota and default limits,
# a NetworkPolicy that keeps other learners' pods out, the sample fleet
# in staging and test, and a kubeconfig file to hand out.
#
#   lab up -var 'learners=["alice","bob"]'    # learners/alice.kubeconfig, ...
#   lab verify deploy-fleet --learner alice    # alice's work
#   lab verify --all-learners                  # everyone's, as a table
#   lab board                                  # the same, live, on localhost
#   lab down                                   # what lab made; the cluster stays

variable "learners" {
  description = "The learners' names; each becomes a namespace prefix, so lower-case letters, digits and '-'."
  type        = set(string)
  default     = ["alice", "bob"]

  validation {
    condition     = length([for l in var.learners : l if !can(regex("^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$", l))]) == 0
    error_message = "Each learner's name must be lower-case letters, digits and '-', at most 42 characters, so <learner>-staging is a namespace name."
  }
}

variable "kubeconfig" {
  description = "The instructor's kubeconfig (\"\": $KUBECONFIG, else ~/.kube/config)."
  type        = string
  default     = ""
}

variable "context" {
  description = "The context of the workshop's cluster in it (\"\": its current context)."
  type        = string
  default     = ""
}

variable "token_lifetime" {
  description = "How long a learner's kubeconfig works: the length of the event. lab up writes new tokens once half of it has passed."
  type        = string
  default     = "8h"
}

variable "fleet_replicas" {
  description = "Replicas of the sample fleet in each learner's staging and test."
  type        = number
  default     = 2
}

# The event's cluster: lab uses it, and never creates or deletes it.
resource "existing_cluster" "event" {
  kubeconfig = var.kubeconfig
  context    = var.context
}

locals {
  stages = ["dev", "staging", "test"]
  # One entry per learner and stage: "alice-dev" = { learner = "alice", stage = "dev" }.
  spaces = merge([for l in var.learners : { for s in local.stages : "${l}-${s}" => { learner = l, stage = s } }]...)

  # Small requests, so 50 learners' fleets fit a 2-CPU node.
  requests = { cpu = "2m", memory = "8Mi" }
  limits   = { cpu = "100m", memory = "64Mi" }
}

resource "namespace" "space" {
  for_each = local.spaces
  name     = each.key
  labels   = { "lab.dev/learner" = each.value.learner, "lab.dev/stage" = each.value.stage }
}

# Per namespace: a quota, default requests and limits, and a policy that
# lets in traffic only from the same learner's namespaces.
resource "manifest" "guard" {
  for_each  = local.spaces
  namespace = namespace.space[each.key].name
  wait      = false # a quota, limits and a policy hold from their creation
  content = join("---\n", [
    yamlencode({
      apiVersion = "v1", kind = "ResourceQuota",
      metadata   = { name = "learner-quota" },
      spec = { hard = {
        pods              = "6"
        "requests.cpu"    = "60m"
        "requests.memory" = "256Mi"
        "limits.memory"   = "512Mi"
      } }
    }),
    yamlencode({
      apiVersion = "v1", kind = "LimitRange",
      metadata   = { name = "learner-defaults" },
      spec       = { limits = [{ type = "Container", defaultRequest = local.requests, default = local.limits }] }
    }),
    yamlencode({
      apiVersion = "networking.k8s.io/v1", kind = "NetworkPolicy",
      metadata   = { name = "same-learner-only" },
      spec = {
        podSelector = {}
        policyTypes = ["Ingress"]
        ingress     = [{ from = [{ namespaceSelector = { matchLabels = { "lab.dev/learner" = each.value.learner } } }] }]
      }
    }),
  ])
}

# Per learner: a ServiceAccount in their dev namespace that may work in
# dev and look at staging and test, and nothing else.
resource "manifest" "access" {
  for_each  = var.learners
  namespace = namespace.space["${each.key}-dev"].name
  wait      = false # RBAC holds from its creation
  content = join("---\n", concat(
    [yamlencode({ apiVersion = "v1", kind = "ServiceAccount", metadata = { name = "learner" } })],
    # Each namespace named through its own block, so a learner's access
    # waits for that learner's namespaces only.
    flatten([for stage, ns in {
      dev     = namespace.space["${each.key}-dev"].name
      staging = namespace.space["${each.key}-staging"].name
      test    = namespace.space["${each.key}-test"].name
      } : [
      yamlencode({
        apiVersion = "rbac.authorization.k8s.io/v1", kind = "Role",
        metadata   = { name = "learner", namespace = ns },
        rules = stage == "dev" ? [
          { apiGroups = ["", "apps"], resources = ["pods", "pods/log", "services", "configmaps", "deployments", "deployments/scale", "replicasets", "replicasets/scale"], verbs = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"] },
          { apiGroups = [""], resources = ["events", "resourcequotas", "limitranges"], verbs = ["get", "list", "watch"] },
          { apiGroups = ["networking.k8s.io"], resources = ["networkpolicies"], verbs = ["get", "list", "watch"] },
          ] : [
          { apiGroups = ["", "apps"], resources = ["pods", "pods/log", "services", "configmaps", "deployments", "replicasets", "events", "resourcequotas", "limitranges"], verbs = ["get", "list", "watch"] },
        ]
      }),
      yamlencode({
        apiVersion = "rbac.authorization.k8s.io/v1", kind = "RoleBinding",
        metadata   = { name = "learner", namespace = ns },
        roleRef    = { apiGroup = "rbac.authorization.k8s.io", kind = "Role", name = "learner" },
        subjects   = [{ kind = "ServiceAccount", name = "learner", namespace = "${each.key}-dev" }]
      }),
    ]]),
  ))
}

# The sample fleet the lesson looks at, in each learner's staging and test.
resource "helm_release" "fleet" {
  for_each = { for k, v in local.spaces : k => v if v.stage != "dev" }
  name     = "fleet"
  chart    = "charts/fleet"
  # Through the guard, so the fleet starts under its quota and limits.
  namespace = manifest.guard[each.key].namespace
  values = {
    replicas  = var.fleet_replicas
    resources = { requests = local.requests, limits = local.limits }
  }
}

# What the instructor hands each learner: kubectl --kubeconfig learners/alice.kubeconfig get pods
resource "kubeconfig_file" "learner" {
  for_each        = var.learners
  path            = "learners/${each.key}.kubeconfig"
  service_account = "learner"
  # Through the access manifest, so the ServiceAccount exists first.
  namespace    = manifest.access[each.key].namespace
  context_name = each.key
  expiration   = var.token_lifetime
}

output "kubeconfigs" {
  description = "Each learner's kubeconfig file."
  value       = { for l, k in kubeconfig_file.learner : l => k.path }
}

# The lesson's task, once per learner, in the learner's own namespace.
lab "deploy-fleet" {
  for_each   = var.learners
  title      = "Deploy a Fleet of Pods"
  solution   = "solution.yaml"
  namespaces = ["${each.key}-dev"]
  timeout    = "10s"
  task       = <<-EOT
    In your namespace ${each.key}-dev, create a Deployment named fleet that:

      - runs at least 3 replicas,
      - uses the RollingUpdate strategy with maxSurge: 1,
      - has every replica available.

    Apply it with kubectl apply -f <file>, then check your work with
    lab verify deploy-fleet --learner ${each.key}.
  EOT

  check "deployment" {
    select "fleet" {
      api_version = "apps/v1"
      kind        = "Deployment"
      namespace   = "${each.key}-dev"
      name        = "fleet"
      hint        = "Write a Deployment manifest with metadata.name: fleet and metadata.namespace: ${each.key}-dev, then kubectl apply -f <file>."
    }
  }

  check "replicas" {
    select "fleet" {
      api_version = "apps/v1"
      kind        = "Deployment"
      namespace   = "${each.key}-dev"
      name        = "fleet"
    }
    assert {
      condition     = fleet.spec.replicas >= 3
      error_message = "fleet asks for ${actual} replica(s); the task asks for at least 3."
      hint          = "Set spec.replicas: 3 in your manifest and apply it again."
    }
  }

  check "rolling-update" {
    select "fleet" {
      api_version = "apps/v1"
      kind        = "Deployment"
      namespace   = "${each.key}-dev"
      name        = "fleet"
    }
    assert {
      condition     = fleet.spec.strategy.type == "RollingUpdate"
      error_message = "fleet uses the ${actual} strategy; the task asks for RollingUpdate."
      hint          = "Set spec.strategy.type: RollingUpdate and spec.strategy.rollingUpdate.maxSurge: 1."
    }
    assert {
      condition     = fleet.spec.strategy.type != "RollingUpdate" || written(fleet, "spec.strategy.rollingUpdate.maxSurge", "25%")
      error_message = "your manifest does not set maxSurge, so Kubernetes filled in its default, ${actual}. The task asks you to set maxSurge: 1 yourself."
      hint          = "Add maxSurge: 1 under spec.strategy.rollingUpdate in your manifest and apply it again."
    }
    assert {
      condition     = fleet.spec.strategy.type != "RollingUpdate" || !written(fleet, "spec.strategy.rollingUpdate.maxSurge", "25%") || intorpercent(try(fleet.spec.strategy.rollingUpdate.maxSurge, "25%"), fleet.spec.replicas) == 1
      error_message = "maxSurge is ${actual}; the task asks for exactly one extra pod during a rollout."
      hint          = "Set spec.strategy.rollingUpdate.maxSurge: 1 and apply the manifest again."
    }
  }

  check "available" {
    select "fleet" {
      api_version = "apps/v1"
      kind        = "Deployment"
      namespace   = "${each.key}-dev"
      name        = "fleet"
    }
    select "replicasets" {
      api_version = "apps/v1"
      kind        = "ReplicaSet"
      namespace   = "${each.key}-dev"
    }
    # A ReplicaSet that may not make its pods says why: over the quota,
    # the API server names it.
    assert {
      for_each      = owned(replicasets, fleet)
      condition     = length([for c in try(each.value.status.conditions, []) : c if c.type == "ReplicaFailure" && c.status == "True"]) == 0
      error_message = "ReplicaSet ${each.value.metadata.name} cannot create its pods: ${join("; ", [for c in try(each.value.status.conditions, []) : c.message if c.type == "ReplicaFailure"])}"
      hint          = "Your namespaces have a ResourceQuota: kubectl describe resourcequota -n ${each.value.metadata.namespace} shows what is used and the limit. Ask for fewer replicas or smaller requests."
    }
    assert {
      condition     = try(fleet.status.observedGeneration, 0) >= fleet.metadata.generation
      error_message = "the Deployment controller has not caught up with your last change yet (it has seen generation ${actual} of ${fleet.metadata.generation})."
      hint          = "Wait a moment and run lab verify again."
    }
    assert {
      condition     = try(fleet.status.availableReplicas, 0) >= fleet.spec.replicas
      error_message = "${actual} of ${fleet.spec.replicas} replicas are available."
      hint          = "kubectl get pods -n ${each.key}-dev shows which pods are not ready; kubectl describe pod <name> says why."
    }
  }

  check "managed-pods" {
    select "fleet" {
      api_version = "apps/v1"
      kind        = "Deployment"
      namespace   = "${each.key}-dev"
      name        = "fleet"
    }
    select "replicasets" {
      api_version = "apps/v1"
      kind        = "ReplicaSet"
      namespace   = "${each.key}-dev"
    }
    select "pods" {
      api_version = "v1"
      kind        = "Pod"
      namespace   = "${each.key}-dev"
    }
    assert {
      condition     = length(owned(pods, owned(replicasets, fleet))) >= fleet.spec.replicas
      error_message = "fleet's ReplicaSet manages ${actual} pod(s), fewer than its ${fleet.spec.replicas} replicas."
      hint          = "kubectl get replicasets,pods -n ${each.key}-dev --show-labels shows which ReplicaSet owns which pods."
    }
    assert {
      for_each      = pods
      condition     = length(try(each.value.metadata.ownerReferences, [])) > 0
      error_message = "Pod ${each.value.metadata.name} was made by hand (no ReplicaSet manages it); the task asks for no hand-made Pods."
      hint          = "Delete it with kubectl delete pod ${each.value.metadata.name} -n ${each.value.metadata.namespace}."
    }
  }
}
