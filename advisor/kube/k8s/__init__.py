"""Kubernetes manifests (or `kubectl get pods|all -o json`) as a layout problem.

Every workload (Deployment, StatefulSet, ReplicaSet, ReplicationController, Job, CronJob,
Pod) becomes one pod of the problem's `layout`, so that review scores what runs today; its
containers, requests, ports, volumes, scheduling rules and injected sidecars become the
problem's containers and hints, so that advise may regroup them. Pods whose controller is
not in the input are grouped by it into one workload, and where they run (spec.nodeName on
a node given) becomes `layout.placements`. A DaemonSet runs on every node it admits: it is
no pod to place but per-node overhead, taken off each node's allocatable. A
HorizontalPodAutoscaler raises its target to its minReplicas. Services that select several
workloads and PodDisruptionBudgets are read against the workloads.

Required spreading becomes `policy.spread` only when every replicated workload asks for it,
as that one setting holds for every pod; otherwise it is left to the SPOF objective.

The stages, in the order `import_k8s` runs them: `objects` (walk the documents, metadata,
owners, label selectors), `collect` (which objects are workloads; Pods of one controller
as one), `parse` (a workload's containers, resources, ports, volumes, affinity),
`scheduling` (node selection, the global spread), `main_container`, `sidecars` (injected
by webhooks), `pods` (names and helper hints), `affinity`, `storage` (claims and their
access modes), `services` (Services and PodDisruptionBudgets), `placements`, `problem`
(the wire form) and `overhead` (init containers, DaemonSets).
"""

from advisor.kube.k8s.importer import import_k8s
from advisor.kube.k8s.objects import WORKLOAD_KINDS, is_k8s

__all__ = ["WORKLOAD_KINDS", "import_k8s", "is_k8s"]
