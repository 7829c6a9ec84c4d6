#pragma once
// The reasons and condition types the runtime writes into statuses and events and reads back
// (the kubelet's planner, the image builder, the deployment controller, the readiness gate), in
// one place so a writer and a reader cannot spell one differently. The strings are Kubernetes'
// own where Kubernetes has one, because kubectl, k9s and users' scripts match on them.

namespace ticketctl::reasons {

// A container's state.waiting.reason.
inline constexpr char kContainerCreating[] = "ContainerCreating";
inline constexpr char kPodInitializing[] = "PodInitializing";
inline constexpr char kCrashLoopBackOff[] = "CrashLoopBackOff";
inline constexpr char kCreateContainerConfigError[] = "CreateContainerConfigError";
inline constexpr char kRunContainerError[] = "RunContainerError";
// ticketctl's own: what kubectl shows instead of ErrImagePull, as an image here is a program.
inline constexpr char kBuildFailed[] = "BuildFailed";
inline constexpr char kErrImageNotMapped[] = "ErrImageNotMapped";
inline constexpr char kErrImageBinaryMissing[] = "ErrImageBinaryMissing";
inline constexpr char kErrDockerfile[] = "ErrDockerfile";

// A container's state.terminated.reason.
inline constexpr char kCompleted[] = "Completed";
inline constexpr char kError[] = "Error";
inline constexpr char kOOMKilled[] = "OOMKilled";
inline constexpr char kContainerStatusUnknown[] = "ContainerStatusUnknown";

// Pod condition types.
inline constexpr char kInitialized[] = "Initialized";
inline constexpr char kReady[] = "Ready";
inline constexpr char kContainersReady[] = "ContainersReady";
inline constexpr char kPodScheduled[] = "PodScheduled";

// Deployment condition types and their reasons (the deployment controller's util).
inline constexpr char kProgressing[] = "Progressing";
inline constexpr char kAvailable[] = "Available";
inline constexpr char kFoundNewReplicaSet[] = "FoundNewReplicaSet";
inline constexpr char kNewReplicaSetCreated[] = "NewReplicaSetCreated";
inline constexpr char kReplicaSetUpdated[] = "ReplicaSetUpdated";
inline constexpr char kNewReplicaSetAvailable[] = "NewReplicaSetAvailable";
inline constexpr char kProgressDeadlineExceeded[] = "ProgressDeadlineExceeded";
inline constexpr char kMinimumReplicasAvailable[] = "MinimumReplicasAvailable";
inline constexpr char kMinimumReplicasUnavailable[] = "MinimumReplicasUnavailable";

}  // namespace ticketctl::reasons
