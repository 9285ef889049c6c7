// Package compose turns the stacks of a snapshot into moor's desired state.
//
// A stack is a directory holding one compose file. It is loaded with
// compose-go (interpolation, extends, include, profiles, env_file, schema
// validation) and every service is then mapped, field by field, onto
// reconcile.ContainerSpec, moor's own normalized description of a container.
//
// # Rejected, never ignored
//
// Every field of compose-go's ServiceConfig is either mapped into the spec or
// rejected with an error naming the stack, the service and the YAML field.
// The check walks the struct by reflection against an explicit allow-list
// (fields.go), so a field that a newer compose-go learns is rejected until
// someone maps it. Silently dropping a field would run a container that is
// not what the repository says (a missing ipc: host, a device cgroup rule
// that is not there) while every status page reports success; a stack
// that does not load is reported and left as it runs, which is the honest
// outcome. The same rule holds inside nested structures (deploy, network
// attachments, volume options, configs and secrets).
//
// # What is mapped
//
// Every service field docker compose v2 honours on one engine takes effect
// as compose's getCreateConfigs puts it into the engine's Config and
// HostConfig: image, command, entrypoint, environment, labels, user,
// working_dir, hostname, domainname, stop_signal, stop_grace_period, ports,
// expose, volumes (binds with :z/:Z or bind.selinux, propagation,
// create_host_path and recursive; volumes with nocopy, subpath and labels;
// tmpfs), tmpfs, configs, secrets, network_mode, networks, links,
// external_links, container_name, restart, healthcheck, cap_add, cap_drop,
// extra_hosts, dns, dns_search, dns_opt, sysctls, ulimits, logging, init,
// read_only, security_opt, privileged, devices, shm_size, tty, stdin_open,
// platform (pull and create; else DOCKER_DEFAULT_PLATFORM), runtime, ipc,
// pid, uts, userns_mode, cgroup, cgroup_parent, group_add, mac_address,
// isolation, annotations, volumes_from, storage_opt,
// oom_score_adj, oom_kill_disable, cpus, cpu_shares, cpuset, cpu_count,
// cpu_percent, cpu_period, cpu_quota, cpu_rt_period, cpu_rt_runtime,
// mem_limit, mem_reservation, memswap_limit, mem_swappiness, pids_limit,
// blkio_config,
// device_cgroup_rules, gpus, post_start, pre_stop (see Lifecycle hooks),
// and deploy: replicas, mode (global runs one
// container), resources.limits (cpus, memory, pids),
// resources.reservations (memory, devices), restart_policy (condition,
// max_attempts), update_config. Each new field is a ContainerSpec field
// omitted when unset, so a service that does not use it keeps its hash.
//
// What only swarm uses, and docker compose accepts and ignores on one
// engine, is accepted with a warning naming it ("deploy.placement has no
// effect on a single host", Stack.Warnings): deploy.placement, labels,
// endpoint_mode, restart_policy delay and window, rollback_config,
// reservations cpus, pids and generic_resources, limits devices and
// generic_resources, credential_spec; so are the uid, gid and mode of a
// config or secret from a file, which compose ignores. A port's mode is
// accepted without one: compose-go gives every port of the short syntax
// mode ingress, and compose publishes it all the same.
//
// A field the engine's API version does not know is an error at create
// naming the field and the engine it needs (volume.subpath: API 1.45;
// bind.recursive writable or readonly: API 1.44; a CDI device: API 1.44;
// annotations: API 1.43), never dropped. mac_address is set as compose
// sets it: on the primary network's endpoint from API 1.44 on,
// container-wide before.
//
// network_mode, ipc and pid service:NAME, and volumes_from NAME, name the
// first replica of the stack's service NAME, as compose resolves them: the
// spec keeps "service:NAME", the container is created after NAME's with
// its container's name, and compose's hash of the service takes that
// container's ID when it is created (ComposeService.Template), so a
// replaced provider replaces the services that share it. volumes_from
// mounts read-write whatever its mode says, as compose does; moor warns.
// deploy.update_config.order start-first for a service that cannot run
// twice at once (a published host port, a fixed address) is run
// stop-first, as compose recreates it, with a warning.
//
// Still refused, each with what to write instead: use_api_socket,
// provider, volumes of type image, a build context
// that is a URL or git repository, BuildKit-only build fields, and the
// top-level models. Two services or stacks publishing one host port, or
// one container name twice, are refused (see Claims).
//
// # x-moor
//
// The top-level extension x-moor holds what moor reads of a stack beyond
// compose: depends_on, the stacks this one needs (Stack.DependsOn, see
// package reconcile for the order it gives), and canary, the hosts of a
// fleet that take a change of the stack first (Stack.Canary, canary.go;
// docs/canary.md). Its shape is checked like a field, and any other key
// under it is refused. CheckOrder then refuses,
// across the stacks of a revision, a cycle (each stack on it, the cycle
// named) and a stack that needs one that is missing or broken: such a
// stack goes to Desired.Broken rather than start without what it needs.
// hosts and host_labels say which hosts of a fleet the stack is for
// (fleet.go): read before the stack is loaded, so a stack for other hosts
// is not loaded at all.
//
// # Fleets
//
// With Options.Host, Load reads the stacks of that host: the shared ones,
// those of hosts/NAME/ and groups/KEY=VALUE/, and only those whose x-moor
// takes it; their interpolation adds the host's variables files and
// identity. Another host's directory is never read (fleet.go,
// docs/fleet.md).
//
// # Lifecycle hooks
//
// post_start and pre_stop (hooks.go) are run as docker compose v2 runs
// them: each hook an exec in the container with its command (no shell:
// the command runs as written), user, privileged, working_dir and
// environment (added to the container's; a variable without a value is
// passed alone, as compose passes it). compose's config hash covers them,
// so a changed hook replaces the container, as compose recreates it; a
// service without hooks keeps its hash. A hook without a command is
// refused, naming it: post_start[1].command.
//
// post_start runs after every start moor makes (a created container, a
// replacement, a restart, an exited container started again), before the
// container counts as up: a hook that exits non-zero fails the replica,
// so a replacement is undone and the old container runs again, and the
// error names the service, the hook, its exit code and the end of its
// output. pre_stop runs in a running container before moor stops it: the
// old container of a replacement (drained before it stops, where compose
// v2.40.3 runs no hook when it recreates a container), a replica scaled
// away, and the containers of a service or stack removed from git. It runs
// the hooks the container was created with (label moor.pre-stop), so
// removing a service from git still drains it. A pre_stop that fails is a
// warning of the apply and the container is stopped all the same: compose
// aborts the stop, but a broken hook of an old container cannot be fixed
// by a commit, and would keep it running forever. A container that a
// rollback starts again does not run post_start: its hooks were the old
// revision's. Each hook is bounded by the executor's ready timeout.
//
// # Configs and secrets given inline
//
// A config with content:, or a config or secret with environment: (a
// variable of the stack's .env or of the configured variables), is written
// into the container between its creation and its start, as compose v2
// does outside swarm: at its target, 0444 unless mode: says otherwise,
// owned by its uid and gid. ContainerSpec.Files carries the content's
// digest, so a change replaces the container; the content itself is in no
// JSON, so no hash, recorded desired state or ledger entry holds a secret.
// It counts against the stack's HashBytes. A read_only service refuses
// them, as compose does.
//
// # SOPS-encrypted files
//
// A .env, env_file or label_file, a config or secret from a file, or a
// bound file that sops encrypted is decrypted in memory with
// Options.Secrets.Keys (package secrets; sopsFiles in sops.go): dotenv
// values into the environment, a bound file into Stack.Secrets, bound
// read-only from Secrets.Dir under its digest, which is the mount's
// Content (a changed secret replaces exactly the containers that bind it).
// A file the repository's .sops.yaml marks as encrypted that is in the
// clear refuses the stack. The stack's messages are scrubbed of decrypted
// values (Stack.Redact), and Service.SecretFields names the fields that
// hold one, so that a plan says "environment (secret changed)".
//
// # Messages
//
// A stack's error holds all of its problems, one a line, each line naming
// the stack and its file, the service, and the field as written: a list
// entry by its index and its text in the compose file (ports[0]
// "8080:80"), read from the file itself since compose-go keeps no
// positions (written.go). A common rejection says what to do instead
// (hints.go). An unset variable is a warning of the stack that uses it
// (unset.go), not compose-go's global log line.
//
// # Claims
//
// A host port a service publishes and a container name (container_name,
// or the STACK-SERVICE-N compose gives) are held by one container alone
// (claims.go). Two services or replicas of a stack holding one refuse the
// stack; two stacks holding one both go to Desired.Broken, each message
// naming both sides, so that neither is touched until one changes.
//
// # Bind mounts and their Content
//
// With Options.StacksRoot, the directory given to Load is mirrored onto the
// stack directories on the host (see package stackdir), and a bind whose
// source lies inside the repository (a relative path such as ./nginx.conf
// resolves against the stack's directory) points there, never into the
// snapshot. What the repository holds at that path is bound from its copy
// in the stack directories, and its Mount.Content is "sha256:<hex>" of it:
// the file, or the directory tree (sorted relative paths, file modes,
// contents, symlink targets). The config hash covers Content instead of the
// path: the container is replaced when the file changes and kept when only
// the revision does. A path the repository does not hold (./data) is a
// directory the stack's containers write: bound from the stack's
// directory, made when missing (create_host_path), hashed by its path,
// which stays the same. Files of the repository outside the source's path
// live under RepoFiles. Stack.Files lists what the stack's directory must
// hold, with a digest. configs and secrets with file: become read-only
// binds of the repository's files. Binds of host paths outside the
// repository carry no Content: moor cannot know their content, and their
// path is what the user wrote. A bind through a symlink that leaves the
// repository is such a host bind too: it is never read or walked. Inside a
// bound tree, symlinks are hashed by their target and never followed.
//
// # build:
//
// A service with a build section gets a reconcile.BuildSpec (build.go):
// its context must be a directory of the repository (a URL or git context
// is refused: moor builds from the revision's files), its Dockerfile a
// regular file of the context, dockerfile_inline, or a file of the
// repository outside the context (read now, sent in the context). The
// fields are those compose v2's classic builder path sends to the Engine
// (the Engine here has no BuildKit), plus shm_size; BuildKit's (ssh,
// secrets, cache_from, cache_to, platforms, additional_contexts, ...) are
// refused with what to do instead. The context is hashed with the settings
// (package buildcontext, honouring .dockerignore, within the stack's
// HashBytes and HashEntries); the service's image is NAME:moor-<hash>,
// NAME being image:'s repository or compose's STACK-SERVICE, so the
// service's config hash, and its containers, change exactly when the
// build does.
//
// # What docker compose records
//
// Each service also carries compose's own config hash (Service.Compose.Hash)
// as docker compose v2 computes it for a container it runs from the stack's
// directory: ServiceHash over the compose-go service, with env_file and
// label_file resolved and dropped, and the paths those of the stack
// directories. This package uses a newer compose-go (v2.13.0, which
// compiles the schema once) than the v2.9.1 docker compose v2.40.3 is built
// with; composego.go keeps v2.9.1's results where the two differ (binds,
// interpolated depends_on.required, a cap on YAML nodes) and names the one
// input v2.13.0 cannot take (an unquoted .inf or .nan). moor writes it on its containers, so that docker
// compose up in the stack's directory recreates nothing, and compares it to
// adopt what docker compose made.
//
// # Nothing outside the repository is read
//
// The repository is input from whoever can push to it, or open a pull
// request whose CI runs `moor validate`, in an environment full of secrets.
// So every file moor reads to build desired state is a regular file inside
// the repository (the snapshot, or the directory given to `moor validate`
// or `moor plan --dir`: Options.Repo, StackDir.Repo), symlinks resolved.
// That covers the compose file and the stack directory (Discover), the
// stack's .env, env_file and label_file, include (its path, its env_file,
// its project_directory and the .env of the included project), extends.file,
// configs and secrets with file:, and the content hashed for binds. A path
// that leaves the repository (as written, whether or not it exists, or
// through a symlink), and a file that is not regular (a directory, a fifo,
// a device), is a load error naming the stack, the field and the file:
//
//	stack web (web/compose.yaml): service app: env_file "/proc/self/environ": outside the repository
//
// compose-go reads some of these files itself. It is told not to resolve
// env_file and label_file (moor reads them, and merges them with
// compose-go's own dotenv code); it asks the resource loader in guard.go
// for every include and extends file, and guard checks each before handing
// it back; and guard checks the files compose-go reads beside an include
// before compose-go gets to them. A config or secret from a file must be a
// file of the repository: for a file of the host, use a bind. What moor reads itself it
// opens through an os.Root at the repository; the include and extends
// files and an include's env files, which compose-go opens again by path
// after guard checked them, are safe as long as the repository does not
// change while it loads (a snapshot does not).
//
// # Limits
//
// Hostile input must not cost too much either: compose-go's cost grows with
// every byte and node, with the square of the nesting depth, and with
// every copy that aliases, merge keys, extends, variables and port ranges
// make. Each stack gets these (Limits; a stack over one is refused with an
// error naming the limit, the others load):
//
//	compose YAML (the compose file, included and extended files)  512 KiB together
//	.env, env_file and label_file files (each time one is used)   4 MiB together
//	text: the YAML with aliases and merge keys followed, what     16 MiB
//	  variables expand to, and each service extends copies
//	YAML nesting depth, aliases followed                          64
//	ports that port ranges (ports, expose) expand to              65536
//	replicas of a service (deploy.replicas, scale; max_replicas)  1000
//	content hashed for binds, configs and secrets                 256 MiB, 100000 entries
//
// Each compose file is scanned before compose-go parses it, with the YAML
// library compose-go uses: one document, its depth, its weight with every
// alias followed, and what its extends copy. Substitution and port ranges
// are counted as compose-go meets them (its Substitute and its type casts).
// A cancelled context (the source's timeout) stops a load between files
// and while variables are substituted. A panic of compose-go on malformed
// input is an error of the stack, and an error is cut at 4 KiB.
//
// # Environment
//
// Interpolation sees only the stack's own .env file and the variables the
// operator configured (which override .env); moor's own process environment
// never leaks into a stack.
package compose
