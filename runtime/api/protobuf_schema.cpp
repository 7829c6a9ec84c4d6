#include "runtime/api/protobuf_schema.h"

#include <algorithm>

namespace ticketctl::api::protobuf {
namespace {

using K = FieldKind;

constexpr FieldSchema text(int n, std::string_view json) {
  return {n, json, K::String};
}
constexpr FieldSchema text_list(int n, std::string_view json) {
  return {n, json, K::String, {}, true};
}
constexpr FieldSchema flag(int n, std::string_view json) {
  return {n, json, K::Bool};
}
constexpr FieldSchema int32_field(int n, std::string_view json) {
  return {n, json, K::Int32};
}
constexpr FieldSchema int32_list(int n, std::string_view json) {
  return {n, json, K::Int32, {}, true};
}
constexpr FieldSchema int64_field(int n, std::string_view json) {
  return {n, json, K::Int64};
}
constexpr FieldSchema int64_list(int n, std::string_view json) {
  return {n, json, K::Int64, {}, true};
}
constexpr FieldSchema string_map(int n, std::string_view json) {
  return {n, json, K::StringMap};
}
constexpr FieldSchema bytes_map(int n, std::string_view json) {
  return {n, json, K::BytesMap};
}
constexpr FieldSchema quantity_map(int n, std::string_view json) {
  return {n, json, K::QuantityMap};
}
constexpr FieldSchema quantity(int n, std::string_view json) {
  return {n, json, K::Quantity};
}
constexpr FieldSchema timestamp(int n, std::string_view json) {
  return {n, json, K::Time};
}
constexpr FieldSchema int_or_string(int n, std::string_view json) {
  return {n, json, K::IntOrString};
}
constexpr FieldSchema object(int n, std::string_view json, std::string_view message) {
  return {n, json, K::Message, message};
}
constexpr FieldSchema object_list(int n, std::string_view json, std::string_view message) {
  return {n, json, K::Message, message, true};
}
constexpr FieldSchema embedded(int n, std::string_view message) {
  return {n, {}, K::Inline, message};
}
// A Go pointer (*int32, *bool, *string): its zero value is kept when sent.
constexpr FieldSchema ptr(FieldSchema f) {
  f.keep_zero = true;
  return f;
}

// --- k8s.io/apimachinery pkg/apis/meta/v1 ---

constexpr FieldSchema kObjectMeta[] = {
    text(1, "name"),
    text(2, "generateName"),
    text(3, "namespace"),
    text(4, "selfLink"),
    text(5, "uid"),
    text(6, "resourceVersion"),
    int64_field(7, "generation"),
    timestamp(8, "creationTimestamp"),
    timestamp(9, "deletionTimestamp"),
    ptr(int64_field(10, "deletionGracePeriodSeconds")),
    string_map(11, "labels"),
    string_map(12, "annotations"),
    object_list(13, "ownerReferences", "meta.v1.OwnerReference"),
    text_list(14, "finalizers"),
    object_list(17, "managedFields", "meta.v1.ManagedFieldsEntry"),
};
constexpr FieldSchema kOwnerReference[] = {
    text(5, "apiVersion"),
    text(1, "kind"),
    text(3, "name"),
    text(4, "uid"),
    ptr(flag(6, "controller")),
    ptr(flag(7, "blockOwnerDeletion")),
};
constexpr FieldSchema kManagedFieldsEntry[] = {
    text(1, "manager"),     text(2, "operation"),  text(3, "apiVersion"),
    timestamp(4, "time"),   text(6, "fieldsType"), {7, "fieldsV1", K::FieldsV1},
    text(8, "subresource"),
};
constexpr FieldSchema kLabelSelector[] = {
    string_map(1, "matchLabels"),
    object_list(2, "matchExpressions", "meta.v1.LabelSelectorRequirement"),
};
constexpr FieldSchema kLabelSelectorRequirement[] = {
    text(1, "key"),
    text(2, "operator"),
    text_list(3, "values"),
};
constexpr FieldSchema kCondition[] = {
    text(1, "type"),
    text(2, "status"),
    int64_field(3, "observedGeneration"),
    timestamp(4, "lastTransitionTime"),
    text(5, "reason"),
    text(6, "message"),
};

// --- k8s.io/api core/v1: objects ---

constexpr FieldSchema kSecret[] = {
    object(1, "metadata", "meta.v1.ObjectMeta"),
    ptr(flag(5, "immutable")),
    bytes_map(2, "data"),
    string_map(4, "stringData"),
    text(3, "type"),
};
constexpr FieldSchema kConfigMap[] = {
    object(1, "metadata", "meta.v1.ObjectMeta"),
    ptr(flag(4, "immutable")),
    string_map(2, "data"),
    bytes_map(3, "binaryData"),
};
constexpr FieldSchema kNamespace[] = {
    object(1, "metadata", "meta.v1.ObjectMeta"),
    object(2, "spec", "core.v1.NamespaceSpec"),
    object(3, "status", "core.v1.NamespaceStatus"),
};
constexpr FieldSchema kNamespaceSpec[] = {
    text_list(1, "finalizers"),
};
constexpr FieldSchema kNamespaceStatus[] = {
    text(1, "phase"),
    object_list(2, "conditions", "core.v1.NamespaceCondition"),
};
constexpr FieldSchema kNamespaceCondition[] = {
    text(1, "type"),   text(2, "status"),  timestamp(4, "lastTransitionTime"),
    text(5, "reason"), text(6, "message"),
};
constexpr FieldSchema kPod[] = {
    object(1, "metadata", "meta.v1.ObjectMeta"),
    object(2, "spec", "core.v1.PodSpec"),
    object(3, "status", "core.v1.PodStatus"),
};
constexpr FieldSchema kPodStatus[] = {
    int64_field(17, "observedGeneration"),
    text(1, "phase"),
    object_list(2, "conditions", "core.v1.PodCondition"),
    text(3, "message"),
    text(4, "reason"),
    text(11, "nominatedNodeName"),
    text(5, "hostIP"),
    object_list(16, "hostIPs", "core.v1.HostIP"),
    text(6, "podIP"),
    object_list(12, "podIPs", "core.v1.PodIP"),
    timestamp(7, "startTime"),
    text(9, "qosClass"),
    text(14, "resize"),
};
constexpr FieldSchema kPodCondition[] = {
    text(1, "type"),
    int64_field(7, "observedGeneration"),
    text(2, "status"),
    timestamp(3, "lastProbeTime"),
    timestamp(4, "lastTransitionTime"),
    text(5, "reason"),
    text(6, "message"),
};
constexpr FieldSchema kHostIP[] = {text(1, "ip")};
constexpr FieldSchema kPodIP[] = {text(1, "ip")};

// --- core/v1: Service ---

constexpr FieldSchema kService[] = {
    object(1, "metadata", "meta.v1.ObjectMeta"),
    object(2, "spec", "core.v1.ServiceSpec"),
    object(3, "status", "core.v1.ServiceStatus"),
};
constexpr FieldSchema kServiceSpec[] = {
    object_list(1, "ports", "core.v1.ServicePort"),
    string_map(2, "selector"),
    text(3, "clusterIP"),
    text_list(18, "clusterIPs"),
    text(4, "type"),
    text_list(5, "externalIPs"),
    text(7, "sessionAffinity"),
    text(8, "loadBalancerIP"),
    text_list(9, "loadBalancerSourceRanges"),
    text(10, "externalName"),
    text(11, "externalTrafficPolicy"),
    int32_field(12, "healthCheckNodePort"),
    flag(13, "publishNotReadyAddresses"),
    object(14, "sessionAffinityConfig", "core.v1.SessionAffinityConfig"),
    text_list(19, "ipFamilies"),
    ptr(text(17, "ipFamilyPolicy")),
    ptr(flag(20, "allocateLoadBalancerNodePorts")),
    ptr(text(21, "loadBalancerClass")),
    ptr(text(22, "internalTrafficPolicy")),
    ptr(text(23, "trafficDistribution")),
};
constexpr FieldSchema kServicePort[] = {
    text(1, "name"),
    text(2, "protocol"),
    ptr(text(6, "appProtocol")),
    int32_field(3, "port"),
    int_or_string(4, "targetPort"),
    int32_field(5, "nodePort"),
};
constexpr FieldSchema kSessionAffinityConfig[] = {
    object(1, "clientIP", "core.v1.ClientIPConfig"),
};
constexpr FieldSchema kClientIPConfig[] = {
    ptr(int32_field(1, "timeoutSeconds")),
};
constexpr FieldSchema kServiceStatus[] = {
    object(1, "loadBalancer", "core.v1.LoadBalancerStatus"),
    object_list(2, "conditions", "meta.v1.Condition"),
};
constexpr FieldSchema kLoadBalancerStatus[] = {
    object_list(1, "ingress", "core.v1.LoadBalancerIngress"),
};
constexpr FieldSchema kLoadBalancerIngress[] = {
    text(1, "ip"),
    text(2, "hostname"),
    ptr(text(3, "ipMode")),
    object_list(4, "ports", "core.v1.PortStatus"),
};
constexpr FieldSchema kPortStatus[] = {
    int32_field(1, "port"),
    text(2, "protocol"),
    ptr(text(3, "error")),
};

// --- core/v1: pods ---

constexpr FieldSchema kPodTemplateSpec[] = {
    object(1, "metadata", "meta.v1.ObjectMeta"),
    object(2, "spec", "core.v1.PodSpec"),
};
// Not read: affinity (18), topologySpreadConstraints (33), ephemeralContainers (34),
// resourceClaims (39).
constexpr FieldSchema kPodSpec[] = {
    object_list(1, "volumes", "core.v1.Volume"),
    object_list(20, "initContainers", "core.v1.Container"),
    object_list(2, "containers", "core.v1.Container"),
    text(3, "restartPolicy"),
    ptr(int64_field(4, "terminationGracePeriodSeconds")),
    ptr(int64_field(5, "activeDeadlineSeconds")),
    text(6, "dnsPolicy"),
    string_map(7, "nodeSelector"),
    text(8, "serviceAccountName"),
    text(9, "serviceAccount"),
    ptr(flag(21, "automountServiceAccountToken")),
    text(10, "nodeName"),
    flag(11, "hostNetwork"),
    flag(12, "hostPID"),
    flag(13, "hostIPC"),
    ptr(flag(27, "shareProcessNamespace")),
    object(14, "securityContext", "core.v1.PodSecurityContext"),
    object_list(15, "imagePullSecrets", "core.v1.LocalObjectReference"),
    text(16, "hostname"),
    text(17, "subdomain"),
    text(19, "schedulerName"),
    object_list(22, "tolerations", "core.v1.Toleration"),
    object_list(23, "hostAliases", "core.v1.HostAlias"),
    text(24, "priorityClassName"),
    ptr(int32_field(25, "priority")),
    object(26, "dnsConfig", "core.v1.PodDNSConfig"),
    object_list(28, "readinessGates", "core.v1.PodReadinessGate"),
    ptr(text(29, "runtimeClassName")),
    ptr(flag(30, "enableServiceLinks")),
    ptr(text(31, "preemptionPolicy")),
    quantity_map(32, "overhead"),
    ptr(flag(35, "setHostnameAsFQDN")),
    object(36, "os", "core.v1.PodOS"),
    ptr(flag(37, "hostUsers")),
    object_list(38, "schedulingGates", "core.v1.PodSchedulingGate"),
    object(40, "resources", "core.v1.ResourceRequirements"),
    ptr(text(41, "hostnameOverride")),
};
constexpr FieldSchema kPodReadinessGate[] = {text(1, "conditionType")};
constexpr FieldSchema kPodSchedulingGate[] = {text(1, "name")};
constexpr FieldSchema kPodOS[] = {text(1, "name")};
constexpr FieldSchema kPodDNSConfig[] = {
    text_list(1, "nameservers"),
    text_list(2, "searches"),
    object_list(3, "options", "core.v1.PodDNSConfigOption"),
};
constexpr FieldSchema kPodDNSConfigOption[] = {
    text(1, "name"),
    ptr(text(2, "value")),
};
constexpr FieldSchema kHostAlias[] = {
    text(1, "ip"),
    text_list(2, "hostnames"),
};
constexpr FieldSchema kToleration[] = {
    text(1, "key"),
    text(2, "operator"),
    text(3, "value"),
    text(4, "effect"),
    ptr(int64_field(5, "tolerationSeconds")),
};
constexpr FieldSchema kLocalObjectReference[] = {text(1, "name")};
// Not read: windowsOptions (8), appArmorProfile (11).
constexpr FieldSchema kPodSecurityContext[] = {
    object(1, "seLinuxOptions", "core.v1.SELinuxOptions"),
    ptr(int64_field(2, "runAsUser")),
    ptr(int64_field(6, "runAsGroup")),
    ptr(flag(3, "runAsNonRoot")),
    int64_list(4, "supplementalGroups"),
    ptr(text(12, "supplementalGroupsPolicy")),
    ptr(int64_field(5, "fsGroup")),
    object_list(7, "sysctls", "core.v1.Sysctl"),
    ptr(text(9, "fsGroupChangePolicy")),
    object(10, "seccompProfile", "core.v1.SeccompProfile"),
    ptr(text(13, "seLinuxChangePolicy")),
};
constexpr FieldSchema kSELinuxOptions[] = {
    text(1, "user"),
    text(2, "role"),
    text(3, "type"),
    text(4, "level"),
};
constexpr FieldSchema kSysctl[] = {text(1, "name"), text(2, "value")};
constexpr FieldSchema kSeccompProfile[] = {
    text(1, "type"),
    ptr(text(2, "localhostProfile")),
};

// --- core/v1: containers ---

constexpr FieldSchema kContainer[] = {
    text(1, "name"),
    text(2, "image"),
    text_list(3, "command"),
    text_list(4, "args"),
    text(5, "workingDir"),
    object_list(6, "ports", "core.v1.ContainerPort"),
    object_list(19, "envFrom", "core.v1.EnvFromSource"),
    object_list(7, "env", "core.v1.EnvVar"),
    object(8, "resources", "core.v1.ResourceRequirements"),
    object_list(23, "resizePolicy", "core.v1.ContainerResizePolicy"),
    ptr(text(24, "restartPolicy")),
    object_list(25, "restartPolicyRules", "core.v1.ContainerRestartRule"),
    object_list(9, "volumeMounts", "core.v1.VolumeMount"),
    object_list(21, "volumeDevices", "core.v1.VolumeDevice"),
    object(10, "livenessProbe", "core.v1.Probe"),
    object(11, "readinessProbe", "core.v1.Probe"),
    object(22, "startupProbe", "core.v1.Probe"),
    object(12, "lifecycle", "core.v1.Lifecycle"),
    text(13, "terminationMessagePath"),
    text(20, "terminationMessagePolicy"),
    text(14, "imagePullPolicy"),
    object(15, "securityContext", "core.v1.SecurityContext"),
    flag(16, "stdin"),
    flag(17, "stdinOnce"),
    flag(18, "tty"),
};
constexpr FieldSchema kContainerPort[] = {
    text(1, "name"),     int32_field(2, "hostPort"), int32_field(3, "containerPort"),
    text(4, "protocol"), text(5, "hostIP"),
};
constexpr FieldSchema kContainerResizePolicy[] = {
    text(1, "resourceName"),
    text(2, "restartPolicy"),
};
constexpr FieldSchema kContainerRestartRule[] = {
    text(1, "action"),
    object(2, "exitCodes", "core.v1.ContainerRestartRuleOnExitCodes"),
};
constexpr FieldSchema kContainerRestartRuleOnExitCodes[] = {
    text(1, "operator"),
    int32_list(2, "values"),
};
constexpr FieldSchema kVolumeDevice[] = {text(1, "name"), text(2, "devicePath")};
constexpr FieldSchema kEnvFromSource[] = {
    text(1, "prefix"),
    object(2, "configMapRef", "core.v1.ConfigMapEnvSource"),
    object(3, "secretRef", "core.v1.SecretEnvSource"),
};
constexpr FieldSchema kConfigMapEnvSource[] = {
    embedded(1, "core.v1.LocalObjectReference"),
    ptr(flag(2, "optional")),
};
constexpr FieldSchema kSecretEnvSource[] = {
    embedded(1, "core.v1.LocalObjectReference"),
    ptr(flag(2, "optional")),
};
constexpr FieldSchema kEnvVar[] = {
    text(1, "name"),
    text(2, "value"),
    object(3, "valueFrom", "core.v1.EnvVarSource"),
};
// Not read: fileKeyRef (5).
constexpr FieldSchema kEnvVarSource[] = {
    object(1, "fieldRef", "core.v1.ObjectFieldSelector"),
    object(2, "resourceFieldRef", "core.v1.ResourceFieldSelector"),
    object(3, "configMapKeyRef", "core.v1.ConfigMapKeySelector"),
    object(4, "secretKeyRef", "core.v1.SecretKeySelector"),
};
constexpr FieldSchema kObjectFieldSelector[] = {text(1, "apiVersion"), text(2, "fieldPath")};
constexpr FieldSchema kResourceFieldSelector[] = {
    text(1, "containerName"),
    text(2, "resource"),
    quantity(3, "divisor"),
};
constexpr FieldSchema kConfigMapKeySelector[] = {
    embedded(1, "core.v1.LocalObjectReference"),
    text(2, "key"),
    ptr(flag(3, "optional")),
};
constexpr FieldSchema kSecretKeySelector[] = {
    embedded(1, "core.v1.LocalObjectReference"),
    text(2, "key"),
    ptr(flag(3, "optional")),
};
constexpr FieldSchema kResourceRequirements[] = {
    quantity_map(1, "limits"),
    quantity_map(2, "requests"),
    object_list(3, "claims", "core.v1.ResourceClaim"),
};
constexpr FieldSchema kResourceClaim[] = {text(1, "name"), text(2, "request")};
constexpr FieldSchema kVolumeMount[] = {
    text(1, "name"),        flag(2, "readOnly"), ptr(text(7, "recursiveReadOnly")),
    text(3, "mountPath"),   text(4, "subPath"),  ptr(text(5, "mountPropagation")),
    text(6, "subPathExpr"),
};
constexpr FieldSchema kProbe[] = {
    embedded(1, "core.v1.ProbeHandler"),
    int32_field(2, "initialDelaySeconds"),
    int32_field(3, "timeoutSeconds"),
    int32_field(4, "periodSeconds"),
    int32_field(5, "successThreshold"),
    int32_field(6, "failureThreshold"),
    ptr(int64_field(7, "terminationGracePeriodSeconds")),
};
constexpr FieldSchema kProbeHandler[] = {
    object(1, "exec", "core.v1.ExecAction"),
    object(2, "httpGet", "core.v1.HTTPGetAction"),
    object(3, "tcpSocket", "core.v1.TCPSocketAction"),
    object(4, "grpc", "core.v1.GRPCAction"),
};
constexpr FieldSchema kExecAction[] = {text_list(1, "command")};
constexpr FieldSchema kHTTPGetAction[] = {
    text(1, "path"),
    int_or_string(2, "port"),
    text(3, "host"),
    text(4, "scheme"),
    object_list(5, "httpHeaders", "core.v1.HTTPHeader"),
};
constexpr FieldSchema kHTTPHeader[] = {text(1, "name"), text(2, "value")};
constexpr FieldSchema kTCPSocketAction[] = {int_or_string(1, "port"), text(2, "host")};
constexpr FieldSchema kGRPCAction[] = {int32_field(1, "port"), ptr(text(2, "service"))};
constexpr FieldSchema kLifecycle[] = {
    object(1, "postStart", "core.v1.LifecycleHandler"),
    object(2, "preStop", "core.v1.LifecycleHandler"),
    ptr(text(3, "stopSignal")),
};
constexpr FieldSchema kLifecycleHandler[] = {
    object(1, "exec", "core.v1.ExecAction"),
    object(2, "httpGet", "core.v1.HTTPGetAction"),
    object(3, "tcpSocket", "core.v1.TCPSocketAction"),
    object(4, "sleep", "core.v1.SleepAction"),
};
constexpr FieldSchema kSleepAction[] = {int64_field(1, "seconds")};
// Not read: windowsOptions (10), appArmorProfile (12).
constexpr FieldSchema kSecurityContext[] = {
    object(1, "capabilities", "core.v1.Capabilities"),
    ptr(flag(2, "privileged")),
    object(3, "seLinuxOptions", "core.v1.SELinuxOptions"),
    ptr(int64_field(4, "runAsUser")),
    ptr(int64_field(8, "runAsGroup")),
    ptr(flag(5, "runAsNonRoot")),
    ptr(flag(6, "readOnlyRootFilesystem")),
    ptr(flag(7, "allowPrivilegeEscalation")),
    ptr(text(9, "procMount")),
    object(11, "seccompProfile", "core.v1.SeccompProfile"),
};
constexpr FieldSchema kCapabilities[] = {text_list(1, "add"), text_list(2, "drop")};

// --- core/v1: volumes ---

constexpr FieldSchema kVolume[] = {
    text(1, "name"),
    embedded(2, "core.v1.VolumeSource"),
};
// The sources a local machine can provide; the cloud and cluster-storage ones are not read.
constexpr FieldSchema kVolumeSource[] = {
    object(1, "hostPath", "core.v1.HostPathVolumeSource"),
    object(2, "emptyDir", "core.v1.EmptyDirVolumeSource"),
    object(6, "secret", "core.v1.SecretVolumeSource"),
    object(10, "persistentVolumeClaim", "core.v1.PersistentVolumeClaimVolumeSource"),
    object(16, "downwardAPI", "core.v1.DownwardAPIVolumeSource"),
    object(19, "configMap", "core.v1.ConfigMapVolumeSource"),
};
constexpr FieldSchema kHostPathVolumeSource[] = {text(1, "path"), ptr(text(2, "type"))};
constexpr FieldSchema kEmptyDirVolumeSource[] = {text(1, "medium"), quantity(2, "sizeLimit")};
constexpr FieldSchema kSecretVolumeSource[] = {
    text(1, "secretName"),
    object_list(2, "items", "core.v1.KeyToPath"),
    ptr(int32_field(3, "defaultMode")),
    ptr(flag(4, "optional")),
};
constexpr FieldSchema kConfigMapVolumeSource[] = {
    embedded(1, "core.v1.LocalObjectReference"),
    object_list(2, "items", "core.v1.KeyToPath"),
    ptr(int32_field(3, "defaultMode")),
    ptr(flag(4, "optional")),
};
constexpr FieldSchema kKeyToPath[] = {text(1, "key"), text(2, "path"), ptr(int32_field(3, "mode"))};
constexpr FieldSchema kPersistentVolumeClaimVolumeSource[] = {
    text(1, "claimName"),
    flag(2, "readOnly"),
};
constexpr FieldSchema kDownwardAPIVolumeSource[] = {
    object_list(1, "items", "core.v1.DownwardAPIVolumeFile"),
    ptr(int32_field(2, "defaultMode")),
};
constexpr FieldSchema kDownwardAPIVolumeFile[] = {
    text(1, "path"),
    object(2, "fieldRef", "core.v1.ObjectFieldSelector"),
    object(3, "resourceFieldRef", "core.v1.ResourceFieldSelector"),
    ptr(int32_field(4, "mode")),
};

// --- k8s.io/api apps/v1 ---

constexpr FieldSchema kDeployment[] = {
    object(1, "metadata", "meta.v1.ObjectMeta"),
    object(2, "spec", "apps.v1.DeploymentSpec"),
    object(3, "status", "apps.v1.DeploymentStatus"),
};
constexpr FieldSchema kDeploymentSpec[] = {
    ptr(int32_field(1, "replicas")),
    object(2, "selector", "meta.v1.LabelSelector"),
    object(3, "template", "core.v1.PodTemplateSpec"),
    object(4, "strategy", "apps.v1.DeploymentStrategy"),
    int32_field(5, "minReadySeconds"),
    ptr(int32_field(6, "revisionHistoryLimit")),
    flag(7, "paused"),
    ptr(int32_field(9, "progressDeadlineSeconds")),
    ptr(text(10, "podReplacementPolicy")),
};
constexpr FieldSchema kDeploymentStrategy[] = {
    text(1, "type"),
    object(2, "rollingUpdate", "apps.v1.RollingUpdateDeployment"),
};
constexpr FieldSchema kRollingUpdateDeployment[] = {
    int_or_string(1, "maxUnavailable"),
    int_or_string(2, "maxSurge"),
};
constexpr FieldSchema kDeploymentStatus[] = {
    int64_field(1, "observedGeneration"),
    int32_field(2, "replicas"),
    int32_field(3, "updatedReplicas"),
    int32_field(7, "readyReplicas"),
    int32_field(4, "availableReplicas"),
    int32_field(5, "unavailableReplicas"),
    ptr(int32_field(9, "terminatingReplicas")),
    object_list(6, "conditions", "apps.v1.DeploymentCondition"),
    ptr(int32_field(8, "collisionCount")),
};
constexpr FieldSchema kDeploymentCondition[] = {
    text(1, "type"),
    text(2, "status"),
    timestamp(6, "lastUpdateTime"),
    timestamp(7, "lastTransitionTime"),
    text(4, "reason"),
    text(5, "message"),
};
constexpr FieldSchema kReplicaSet[] = {
    object(1, "metadata", "meta.v1.ObjectMeta"),
    object(2, "spec", "apps.v1.ReplicaSetSpec"),
    object(3, "status", "apps.v1.ReplicaSetStatus"),
};
constexpr FieldSchema kReplicaSetSpec[] = {
    ptr(int32_field(1, "replicas")),
    int32_field(4, "minReadySeconds"),
    object(2, "selector", "meta.v1.LabelSelector"),
    object(3, "template", "core.v1.PodTemplateSpec"),
};
constexpr FieldSchema kReplicaSetStatus[] = {
    ptr(int32_field(1, "replicas")),  // not omitempty in Go: always written
    int32_field(2, "fullyLabeledReplicas"),
    int32_field(4, "readyReplicas"),
    int32_field(5, "availableReplicas"),
    ptr(int32_field(7, "terminatingReplicas")),
    int64_field(3, "observedGeneration"),
    object_list(6, "conditions", "apps.v1.ReplicaSetCondition"),
};
constexpr FieldSchema kReplicaSetCondition[] = {
    text(1, "type"),   text(2, "status"),  timestamp(3, "lastTransitionTime"),
    text(4, "reason"), text(5, "message"),
};

// --- k8s.io/api networking/v1 ---

constexpr FieldSchema kIngress[] = {
    object(1, "metadata", "meta.v1.ObjectMeta"),
    object(2, "spec", "networking.v1.IngressSpec"),
    object(3, "status", "networking.v1.IngressStatus"),
};
constexpr FieldSchema kIngressSpec[] = {
    ptr(text(4, "ingressClassName")),
    object(1, "defaultBackend", "networking.v1.IngressBackend"),
    object_list(2, "tls", "networking.v1.IngressTLS"),
    object_list(3, "rules", "networking.v1.IngressRule"),
};
constexpr FieldSchema kIngressBackend[] = {
    object(4, "service", "networking.v1.IngressServiceBackend"),
    object(3, "resource", "core.v1.TypedLocalObjectReference"),
};
constexpr FieldSchema kTypedLocalObjectReference[] = {
    ptr(text(1, "apiGroup")),
    text(2, "kind"),
    text(3, "name"),
};
constexpr FieldSchema kIngressServiceBackend[] = {
    text(1, "name"),
    object(2, "port", "networking.v1.ServiceBackendPort"),
};
constexpr FieldSchema kServiceBackendPort[] = {text(1, "name"), int32_field(2, "number")};
constexpr FieldSchema kIngressTLS[] = {text_list(1, "hosts"), text(2, "secretName")};
constexpr FieldSchema kIngressRule[] = {
    text(1, "host"),
    embedded(2, "networking.v1.IngressRuleValue"),
};
constexpr FieldSchema kIngressRuleValue[] = {
    object(1, "http", "networking.v1.HTTPIngressRuleValue"),
};
constexpr FieldSchema kHTTPIngressRuleValue[] = {
    object_list(1, "paths", "networking.v1.HTTPIngressPath"),
};
constexpr FieldSchema kHTTPIngressPath[] = {
    text(1, "path"),
    ptr(text(3, "pathType")),
    object(2, "backend", "networking.v1.IngressBackend"),
};
constexpr FieldSchema kIngressStatus[] = {
    object(1, "loadBalancer", "networking.v1.IngressLoadBalancerStatus"),
};
constexpr FieldSchema kIngressLoadBalancerStatus[] = {
    object_list(1, "ingress", "networking.v1.IngressLoadBalancerIngress"),
};
constexpr FieldSchema kIngressLoadBalancerIngress[] = {
    text(1, "ip"),
    text(2, "hostname"),
    object_list(4, "ports", "networking.v1.IngressPortStatus"),
};
constexpr FieldSchema kIngressPortStatus[] = {
    int32_field(1, "port"),
    text(2, "protocol"),
    ptr(text(3, "error")),
};

constexpr MessageSchema kMessages[] = {
    {"meta.v1.ObjectMeta", kObjectMeta},
    {"meta.v1.OwnerReference", kOwnerReference},
    {"meta.v1.ManagedFieldsEntry", kManagedFieldsEntry},
    {"meta.v1.LabelSelector", kLabelSelector},
    {"meta.v1.LabelSelectorRequirement", kLabelSelectorRequirement},
    {"meta.v1.Condition", kCondition},
    {"core.v1.Secret", kSecret},
    {"core.v1.ConfigMap", kConfigMap},
    {"core.v1.Namespace", kNamespace},
    {"core.v1.NamespaceSpec", kNamespaceSpec},
    {"core.v1.NamespaceStatus", kNamespaceStatus},
    {"core.v1.NamespaceCondition", kNamespaceCondition},
    {"core.v1.Pod", kPod},
    {"core.v1.PodStatus", kPodStatus},
    {"core.v1.PodCondition", kPodCondition},
    {"core.v1.HostIP", kHostIP},
    {"core.v1.PodIP", kPodIP},
    {"core.v1.Service", kService},
    {"core.v1.ServiceSpec", kServiceSpec},
    {"core.v1.ServicePort", kServicePort},
    {"core.v1.SessionAffinityConfig", kSessionAffinityConfig},
    {"core.v1.ClientIPConfig", kClientIPConfig},
    {"core.v1.ServiceStatus", kServiceStatus},
    {"core.v1.LoadBalancerStatus", kLoadBalancerStatus},
    {"core.v1.LoadBalancerIngress", kLoadBalancerIngress},
    {"core.v1.PortStatus", kPortStatus},
    {"core.v1.PodTemplateSpec", kPodTemplateSpec},
    {"core.v1.PodSpec", kPodSpec},
    {"core.v1.PodReadinessGate", kPodReadinessGate},
    {"core.v1.PodSchedulingGate", kPodSchedulingGate},
    {"core.v1.PodOS", kPodOS},
    {"core.v1.PodDNSConfig", kPodDNSConfig},
    {"core.v1.PodDNSConfigOption", kPodDNSConfigOption},
    {"core.v1.HostAlias", kHostAlias},
    {"core.v1.Toleration", kToleration},
    {"core.v1.LocalObjectReference", kLocalObjectReference},
    {"core.v1.PodSecurityContext", kPodSecurityContext},
    {"core.v1.SELinuxOptions", kSELinuxOptions},
    {"core.v1.Sysctl", kSysctl},
    {"core.v1.SeccompProfile", kSeccompProfile},
    {"core.v1.Container", kContainer},
    {"core.v1.ContainerPort", kContainerPort},
    {"core.v1.ContainerResizePolicy", kContainerResizePolicy},
    {"core.v1.ContainerRestartRule", kContainerRestartRule},
    {"core.v1.ContainerRestartRuleOnExitCodes", kContainerRestartRuleOnExitCodes},
    {"core.v1.VolumeDevice", kVolumeDevice},
    {"core.v1.EnvFromSource", kEnvFromSource},
    {"core.v1.ConfigMapEnvSource", kConfigMapEnvSource},
    {"core.v1.SecretEnvSource", kSecretEnvSource},
    {"core.v1.EnvVar", kEnvVar},
    {"core.v1.EnvVarSource", kEnvVarSource},
    {"core.v1.ObjectFieldSelector", kObjectFieldSelector},
    {"core.v1.ResourceFieldSelector", kResourceFieldSelector},
    {"core.v1.ConfigMapKeySelector", kConfigMapKeySelector},
    {"core.v1.SecretKeySelector", kSecretKeySelector},
    {"core.v1.ResourceRequirements", kResourceRequirements},
    {"core.v1.ResourceClaim", kResourceClaim},
    {"core.v1.VolumeMount", kVolumeMount},
    {"core.v1.Probe", kProbe},
    {"core.v1.ProbeHandler", kProbeHandler},
    {"core.v1.ExecAction", kExecAction},
    {"core.v1.HTTPGetAction", kHTTPGetAction},
    {"core.v1.HTTPHeader", kHTTPHeader},
    {"core.v1.TCPSocketAction", kTCPSocketAction},
    {"core.v1.GRPCAction", kGRPCAction},
    {"core.v1.Lifecycle", kLifecycle},
    {"core.v1.LifecycleHandler", kLifecycleHandler},
    {"core.v1.SleepAction", kSleepAction},
    {"core.v1.SecurityContext", kSecurityContext},
    {"core.v1.Capabilities", kCapabilities},
    {"core.v1.Volume", kVolume},
    {"core.v1.VolumeSource", kVolumeSource},
    {"core.v1.HostPathVolumeSource", kHostPathVolumeSource},
    {"core.v1.EmptyDirVolumeSource", kEmptyDirVolumeSource},
    {"core.v1.SecretVolumeSource", kSecretVolumeSource},
    {"core.v1.ConfigMapVolumeSource", kConfigMapVolumeSource},
    {"core.v1.KeyToPath", kKeyToPath},
    {"core.v1.PersistentVolumeClaimVolumeSource", kPersistentVolumeClaimVolumeSource},
    {"core.v1.DownwardAPIVolumeSource", kDownwardAPIVolumeSource},
    {"core.v1.DownwardAPIVolumeFile", kDownwardAPIVolumeFile},
    {"apps.v1.Deployment", kDeployment},
    {"apps.v1.DeploymentSpec", kDeploymentSpec},
    {"apps.v1.DeploymentStrategy", kDeploymentStrategy},
    {"apps.v1.RollingUpdateDeployment", kRollingUpdateDeployment},
    {"apps.v1.DeploymentStatus", kDeploymentStatus},
    {"apps.v1.DeploymentCondition", kDeploymentCondition},
    {"apps.v1.ReplicaSet", kReplicaSet},
    {"apps.v1.ReplicaSetSpec", kReplicaSetSpec},
    {"apps.v1.ReplicaSetStatus", kReplicaSetStatus},
    {"apps.v1.ReplicaSetCondition", kReplicaSetCondition},
    {"networking.v1.Ingress", kIngress},
    {"networking.v1.IngressSpec", kIngressSpec},
    {"networking.v1.IngressBackend", kIngressBackend},
    {"core.v1.TypedLocalObjectReference", kTypedLocalObjectReference},
    {"networking.v1.IngressServiceBackend", kIngressServiceBackend},
    {"networking.v1.ServiceBackendPort", kServiceBackendPort},
    {"networking.v1.IngressTLS", kIngressTLS},
    {"networking.v1.IngressRule", kIngressRule},
    {"networking.v1.IngressRuleValue", kIngressRuleValue},
    {"networking.v1.HTTPIngressRuleValue", kHTTPIngressRuleValue},
    {"networking.v1.HTTPIngressPath", kHTTPIngressPath},
    {"networking.v1.IngressStatus", kIngressStatus},
    {"networking.v1.IngressLoadBalancerStatus", kIngressLoadBalancerStatus},
    {"networking.v1.IngressLoadBalancerIngress", kIngressLoadBalancerIngress},
    {"networking.v1.IngressPortStatus", kIngressPortStatus},
};

struct TopLevelKind {
  std::string_view api_version, kind, message;
};
constexpr TopLevelKind kKinds[] = {
    {"v1", "Secret", "core.v1.Secret"},
    {"v1", "ConfigMap", "core.v1.ConfigMap"},
    {"v1", "Namespace", "core.v1.Namespace"},
    {"v1", "Service", "core.v1.Service"},
    {"v1", "Pod", "core.v1.Pod"},
    {"apps/v1", "Deployment", "apps.v1.Deployment"},
    {"apps/v1", "ReplicaSet", "apps.v1.ReplicaSet"},
    {"networking.k8s.io/v1", "Ingress", "networking.v1.Ingress"},
};

}  // namespace

const MessageSchema* find_message(std::string_view name) {
  for (const MessageSchema& m : kMessages)
    if (m.name == name) return &m;
  return nullptr;
}

const FieldSchema* find_field(const MessageSchema& message, int number) {
  auto it = std::find_if(message.fields.begin(), message.fields.end(),
                         [number](const FieldSchema& f) { return f.number == number; });
  return it == message.fields.end() ? nullptr : &*it;
}

std::string_view message_for_kind(std::string_view api_version, std::string_view kind) {
  for (const TopLevelKind& k : kKinds)
    if (k.api_version == api_version && k.kind == kind) return k.message;
  return {};
}

}  // namespace ticketctl::api::protobuf
