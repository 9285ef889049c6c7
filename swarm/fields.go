package swarm

// serviceFields are the service fields the swarm runtime maps into a
// Swarm service spec (spec.go), or that the loader consumed. A set field
// missing here refuses the stack, with the hint of hints when it has one.
var serviceFields = []string{
	"image", "command", "entrypoint", "environment", "labels",
	"user", "working_dir", "hostname", "stop_signal", "stop_grace_period",
	"ports", "volumes", "tmpfs", "configs", "secrets", "networks",
	"healthcheck", "restart", "deploy",
	"cap_add", "cap_drop", "extra_hosts", "dns", "dns_search", "dns_opt",
	"sysctls", "ulimits", "init", "read_only", "tty", "stdin_open", "group_add",
	// warned about: docker stack deploy ignores them too
	"depends_on", "pull_policy",
	// consumed by the loader
	"env_file", "label_file", "extends", "profiles", "name",
	// irrelevant to a deployed service
	"attach", "develop",
}

// hints say why a field that docker compose honours on one host is
// refused for Swarm, and what to use instead.
var hints = map[string]string{
	"build":          "Swarm runs images from a registry; build and push the image, then name it in image",
	"container_name": "Swarm names a service's tasks itself",
	"links":          "services reach each other by name on their networks",
	"network_mode":   "Swarm services attach to networks",
	"privileged":     "Swarm services cannot be privileged",
	"devices":        "Swarm services cannot be given devices",
	"volumes_from":   "Swarm tasks share no volumes by container",
	"scale":          "use deploy.replicas",
	"pid":            "Swarm services share no PID namespace",
	"ipc":            "Swarm services share no IPC namespace",
	"mem_limit":      "use deploy.resources.limits.memory",
	"cpus":           "use deploy.resources.limits.cpus",
	"logging":        "not mapped yet: the engine's default log driver applies",
	"post_start":     "Swarm runs no lifecycle hooks",
	"pre_stop":       "Swarm runs no lifecycle hooks",
	"platform":       "use deploy.placement.constraints (node.platform.arch)",
}

var (
	deployFields = []string{"mode", "replicas", "labels", "update_config", "rollback_config",
		"resources", "restart_policy", "placement", "endpoint_mode"}
	updateFields        = []string{"parallelism", "delay", "failure_action", "monitor", "max_failure_ratio", "order"}
	resourcesFields     = []string{"limits", "reservations"}
	limitFields         = []string{"cpus", "memory", "pids"}
	reservationFields   = []string{"cpus", "memory"}
	restartPolicyFields = []string{"condition", "delay", "max_attempts", "window"}
	placementFields     = []string{"constraints", "preferences", "max_replicas_per_node"}
	portFields          = []string{"target", "published", "protocol", "mode", "name", "app_protocol"}
	volumeFields        = []string{"type", "source", "target", "read_only", "bind", "volume", "tmpfs", "consistency"}
	bindFields          = []string{"propagation", "create_host_path"}
	volumeOptFields     = []string{"nocopy", "labels"}
	tmpfsFields         = []string{"size", "mode"}
	fileRefFields       = []string{"source", "target", "uid", "gid", "mode"}
	attachmentFields    = []string{"aliases"}
	healthcheckFields   = []string{"test", "timeout", "interval", "retries", "start_period", "start_interval", "disable"}
)
