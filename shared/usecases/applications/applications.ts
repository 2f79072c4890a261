import type {
  ApplicationView,
  CreateApplicationRequest,
  DeploymentView,
  UpdateApplicationRequest,
} from "../../contracts/applications.ts";
import {
  type AppContainer,
  type Application,
  type Deployment,
  type DeploymentCounts,
  NO_COUNTS,
  type Scheduling,
  statusOfCounts,
  usesSecret,
} from "../../domain/application.ts";
import { parseDuration } from "../../domain/duration.ts";
import { BerthError, conflict, ErrorCode, invalidRequest, notFound } from "../../domain/errors.ts";
import { newId } from "../../domain/ids.ts";
import type { UserPrincipal } from "../../domain/principal.ts";
import { MAX_PATH_BYTES } from "../../domain/reservation-data.ts";
import type { Page, PageRequest } from "../../ports/pagination.ts";
import { createCounted } from "../counted.ts";
import type { JobDeps } from "../deps.ts";
import { ownDevice } from "../identity/devices.ts";
import { done, mutate, reread } from "../mutate.ts";
import { activeNamespace, namespaceNamed } from "../namespaces/namespaces.ts";
import { overlap } from "../secrets/job-secrets.ts";

export type ApplicationDeps = JobDeps;

type ContainerInput = CreateApplicationRequest["spec"]["containers"][number];
type SchedulingInput = CreateApplicationRequest["scheduling"];

const bad = (path: string, message: string) => invalidRequest(message, [{ path, message }]);

/** Synpse's defaults (seed 219-221): no type and no selectors is NoDevices, no type but selectors Conditional. */
export function schedulingOf(input: SchedulingInput): Scheduling {
  if (input.selector !== undefined)
    throw bad("scheduling.selector", "use scheduling.selectors (plural): selector would schedule nowhere");
  const selectors = input.selectors ?? {};
  const some = Object.keys(selectors).length > 0;
  const type = input.type ?? (some ? "Conditional" : "NoDevices");
  if (type === "Conditional" && !some) throw bad("scheduling.selectors", "Conditional needs selectors");
  if (type !== "Conditional" && some)
    throw bad("scheduling.selectors", "selectors are used only with Conditional");
  return { type, selectors, nodeGroups: input.nodeGroups };
}

/** Container fields a process application's programs cannot have. */
const CONTAINER_ONLY = [
  "hostname",
  "volumes",
  "privileged",
  "capAdd",
  "capDrop",
  "shmSize",
  "memoryHardLimit",
  "forcePull",
  "imagePullTimeout",
] as const;
/** Given: present, and not an empty list or `false` (the defaults). */
const isSet = (v: unknown) => v !== undefined && v !== false && !(Array.isArray(v) && v.length === 0);
/** The longest pull a container may ask for (Synpse's `imagePullTimeout`). */
const MAX_PULL_SECONDS = 2 * 3600;

/** The containers as stored, each checked against the application's type. */
function containersOf(type: "container" | "process", input: ContainerInput[]): AppContainer[] {
  if (input.length === 0) throw bad("spec.containers", "an application needs at least one container");
  const names = new Set<string>();
  return input.map((c, i) => {
    const at = (field: string) => `spec.containers.${i}.${field}`;
    if (names.has(c.name)) throw bad(at("name"), `container name ${c.name} is given twice`);
    names.add(c.name);
    for (const field of ["volumeDriver", "securityOpt"] as const)
      if (c[field] !== undefined)
        throw new BerthError(
          ErrorCode.RequestNotSupported,
          `${field} is not supported (container ${c.name})`,
          [{ path: at(field), message: "not supported" }],
        );
    if (type === "container" && !c.image) throw bad(at("image"), `container ${c.name} needs an image`);
    if (c.auth?.password !== undefined)
      throw bad(
        at("auth.password"),
        `use auth.fromSecret: a password is never stored in an application (${c.name})`,
      );
    if (type === "process") {
      if (c.auth) throw bad(at("auth"), `a process application pulls no image (${c.name})`);
      if (c.image) throw bad(at("image"), `a process application runs programs, not images (${c.name})`);
      if (!c.command && c.entrypoint.length === 0)
        throw bad(at("command"), `program ${c.name} needs a command (or an entrypoint)`);
      if (c.ports.length > 0 || c.gpus === "all" || c.user || c.networkMode)
        throw bad(at("ports"), `ports, gpus "all", user and networkMode are for containers (${c.name})`);
      const containerOnly = CONTAINER_ONLY.find((f) => isSet(c[f]));
      if (containerOnly) throw bad(at(containerOnly), `${containerOnly} is for containers (${c.name})`);
    }
    if (c.hostname && c.networkMode === "host")
      throw bad(at("hostname"), `a container on the host's network has the host's name (${c.name})`);
    const pullTimeout = c.imagePullTimeout === undefined ? undefined : parseDuration(c.imagePullTimeout);
    if (c.imagePullTimeout !== undefined && (!pullTimeout || pullTimeout > MAX_PULL_SECONDS))
      throw bad(
        at("imagePullTimeout"),
        `imagePullTimeout must be a duration such as 90s, 15m or 1h30m, at most 2h (${c.name})`,
      );
    for (const [j, v] of c.volumes.entries())
      if (Buffer.byteLength(v.source) > MAX_PATH_BYTES || Buffer.byteLength(v.target) > MAX_PATH_BYTES)
        throw bad(
          `${at("volumes")}.${j}`,
          `a volume's paths are at most ${MAX_PATH_BYTES} bytes (${c.name})`,
        );
    for (const [j, s] of c.secrets.entries()) {
      const volume = c.volumes.find((v) => overlap(v.target, s.filepath));
      if (volume)
        throw bad(
          `${at("secrets")}.${j}.filepath`,
          `${s.filepath} overlaps the volume at ${volume.target}; a secret file needs a path outside every volume (${c.name})`,
        );
    }
    for (const [j, e] of c.env.entries())
      if ((e.value === undefined) === (e.fromSecret === undefined))
        throw bad(`${at("env")}.${j}`, `env ${e.name} of ${c.name} needs a value or fromSecret: one of them`);
    const policy = c.restartPolicy;
    if (policy.maximumRetryCount !== undefined && policy.name !== "on-failure")
      throw bad(at("restartPolicy"), "maximumRetryCount goes with on-failure only");
    return {
      name: c.name,
      image: c.image,
      command: c.command,
      entrypoint: c.entrypoint,
      args: c.args,
      env: c.env,
      secrets: c.secrets,
      ports: c.ports,
      gpus: c.gpus,
      workDir: c.workDir,
      user: c.user,
      restartPolicy: policy,
      ...(c.networkMode ? { networkMode: c.networkMode } : {}),
      ...(c.auth
        ? {
            auth: {
              serverAddress: c.auth.serverAddress,
              username: c.auth.username,
              fromSecret: c.auth.fromSecret,
            },
          }
        : {}),
      ...(c.hostname ? { hostname: c.hostname } : {}),
      ...(c.volumes.length > 0 ? { volumes: c.volumes } : {}),
      ...(c.privileged ? { privileged: true } : {}),
      ...(c.capAdd.length > 0 ? { capAdd: c.capAdd } : {}),
      ...(c.capDrop.length > 0 ? { capDrop: c.capDrop } : {}),
      ...(c.shmSize !== undefined ? { shmSize: c.shmSize } : {}),
      ...(c.memoryHardLimit !== undefined ? { memoryHardLimit: c.memoryHardLimit } : {}),
      ...(c.forcePull ? { forcePull: true } : {}),
      ...(pullTimeout !== undefined ? { imagePullTimeoutSeconds: pullTimeout } : {}),
    };
  });
}

/** The secrets the containers name exist in the application's namespace, each of the type its use needs. */
async function checkSecrets(deps: ApplicationDeps, ws: string, ns: string, containers: AppContainer[]) {
  for (const [i, c] of containers.entries()) {
    const uses = [
      ...c.env.flatMap((e, j) =>
        e.fromSecret
          ? [{ name: e.fromSecret, type: "Environment", path: `spec.containers.${i}.env.${j}` }]
          : [],
      ),
      ...c.secrets.map((s, j) => ({ name: s.name, type: "File", path: `spec.containers.${i}.secrets.${j}` })),
      ...(c.auth
        ? [{ name: c.auth.fromSecret, type: "Environment", path: `spec.containers.${i}.auth.fromSecret` }]
        : []),
    ];
    for (const use of uses) {
      const secret = await deps.repos.secrets.get(ws, ns, use.name);
      if (!secret)
        throw bad(use.path, `secret ${use.name} not found in namespace ${ns} (container ${c.name})`);
      if (secret.type !== use.type)
        throw bad(
          use.path,
          `secret ${use.name} is a ${secret.type} secret; container ${c.name} uses it as ${use.type}`,
        );
    }
  }
}

/**
 * A container as the API takes it (Synpse's strings: `"host:container"` ports, `"/host:/ctr:ro"` volumes, a
 * duration for the pull timeout), so that what a GET returns can be sent back in a PATCH as it is.
 */
function containerView(c: AppContainer): Record<string, unknown> {
  const { ports, volumes, imagePullTimeoutSeconds, ...rest } = c;
  return {
    ...rest,
    ports: ports.map(
      (p) =>
        `${p.hostPort !== undefined && p.hostPort !== p.containerPort ? `${p.hostPort}:` : ""}${p.containerPort}${p.protocol === "udp" ? "/udp" : ""}`,
    ),
    ...(volumes ? { volumes: volumes.map((v) => `${v.source}:${v.target}${v.readOnly ? ":ro" : ""}`) } : {}),
    ...(imagePullTimeoutSeconds !== undefined ? { imagePullTimeout: `${imagePullTimeoutSeconds}s` } : {}),
  };
}

export function applicationView(app: Application, counts: DeploymentCounts): ApplicationView {
  return {
    id: app.id,
    name: app.name,
    namespace: app.namespace,
    description: app.description,
    type: app.type,
    version: app.version,
    configVersion: app.configVersion,
    scheduling: app.scheduling,
    spec: { containers: app.spec.containers.map(containerView) },
    rollout: app.rollout,
    stopGracePeriodSeconds: app.stopGracePeriodSeconds,
    status: app.status,
    deploymentStatus: statusOfCounts(counts),
    createdAt: app.createdAt,
    updatedAt: app.updatedAt,
    createdBy: app.createdBy,
  };
}

export const deploymentView = (d: Deployment): DeploymentView => ({
  applicationId: d.applicationId,
  deviceId: d.deviceId,
  version: d.version,
  configVersion: d.configVersion,
  reservationId: d.reservationId,
  state: d.state,
  message: d.message,
  containers: d.containers,
  ...(d.availableSince ? { availableSince: d.availableSince } : {}),
  ...(d.gpus?.length ? { gpus: d.gpus } : {}),
  updatedAt: d.updatedAt,
});

const view = async (deps: ApplicationDeps, app: Application) =>
  applicationView(app, await deps.repos.deployments.counts(app.id));

export async function createApplication(
  deps: ApplicationDeps,
  user: UserPrincipal,
  ns: string,
  input: CreateApplicationRequest,
  reconcile: (app: Application) => Promise<void>,
): Promise<ApplicationView> {
  if (input.type !== "container" && input.type !== "process")
    throw new BerthError(
      ErrorCode.RequestNotSupported,
      `type ${input.type} is not supported: container, or process (programs the agent supervises)`,
    );
  const scheduling = schedulingOf(input.scheduling);
  const containers = containersOf(input.type, input.spec.containers);
  const ws = user.workspaceId;
  await activeNamespace(deps, ws, ns);
  await checkSecrets(deps, ws, ns, containers);
  const now = deps.clock.now().toISOString();
  const app: Application = {
    id: newId(),
    workspaceId: ws,
    namespace: ns,
    name: input.name,
    description: input.description,
    type: input.type,
    version: 1,
    configVersion: 1,
    scheduling,
    spec: { containers },
    rollout: input.rollout,
    stopGracePeriodSeconds: input.stopGracePeriodSeconds,
    status: "active",
    revision: 1,
    createdAt: now,
    updatedAt: now,
    createdBy: user.keyId,
  };
  // Create vs create of one name, vs the namespace's deletion, vs the quota: one transaction.
  await createCounted(
    deps,
    ws,
    "applications",
    () => [deps.repos.applications.create(app), deps.repos.namespaces.countApplication(ws, ns, 1)],
    async (failed) => {
      if (failed === 1) return void (await activeNamespace(deps, ws, ns));
      if (await deps.repos.applications.byName(ws, ns, input.name))
        throw conflict(`application ${input.name} already exists in namespace ${ns}`);
      throw new Error(`application ${app.id}: the id is taken`);
    },
  );
  await reconcile(app);
  return view(deps, app);
}

/** By name or id, in its namespace of the caller's workspace; 404 otherwise. */
export async function findApplication(deps: ApplicationDeps, ws: string, ns: string, ref: string) {
  await namespaceNamed(deps, ws, ns);
  const app =
    (await deps.repos.applications.byName(ws, ns, ref)) ??
    (await deps.repos.applications
      .get(ref)
      .then((a) => (a?.workspaceId === ws && a.namespace === ns ? a : undefined)));
  if (!app) throw notFound(`application ${ref} not found in namespace ${ns}`);
  return app;
}

export const getApplication = async (deps: ApplicationDeps, ws: string, ns: string, ref: string) =>
  view(deps, await findApplication(deps, ws, ns, ref));

export async function listApplications(
  deps: ApplicationDeps,
  ws: string,
  ns: string,
  page: PageRequest,
): Promise<Page<ApplicationView>> {
  await namespaceNamed(deps, ws, ns);
  const out = await deps.repos.applications.list(ws, ns, page);
  // One read for the page's counts, not one per application.
  const counts = await deps.repos.deployments.countsOf(out.items.map((a) => a.id));
  return {
    items: out.items.map((a) => applicationView(a, counts.get(a.id) ?? NO_COUNTS)),
    cursor: out.cursor,
  };
}

export async function listDeployments(
  deps: ApplicationDeps,
  ws: string,
  ns: string,
  ref: string,
  state?: Deployment["state"],
) {
  const app = await findApplication(deps, ws, ns, ref);
  const all = await deps.repos.deployments.ofApplication(app.id);
  return { items: all.filter((d) => !state || d.state === state).map(deploymentView) };
}

const applicationDeleting = (name: string) =>
  new BerthError(ErrorCode.ApplicationDeleting, `application ${name} is being deleted`);

/**
 * Changes an application: a new spec or scheduling is a new version (redeployed within the rollout budget);
 * the same object again changes nothing; `restart` bumps the config version (a redeploy everywhere).
 */
export async function updateApplication(
  deps: ApplicationDeps,
  user: UserPrincipal,
  ns: string,
  ref: string,
  patch: UpdateApplicationRequest | { restart: true },
  reconcile: (app: Application) => Promise<void>,
): Promise<ApplicationView> {
  const ws = user.workspaceId;
  const saved = await mutate({
    what: `application ${ref}`,
    read: () => findApplication(deps, ws, ns, ref),
    async attempt(current) {
      const app = current!;
      if (app.status === "deleting") throw applicationDeleting(app.name);
      await activeNamespace(deps, ws, ns);
      const next: Application = { ...app };
      if ("restart" in patch) next.configVersion = app.configVersion + 1;
      else {
        if (patch.expectedVersion !== undefined && patch.expectedVersion !== app.version)
          throw conflict(
            `application ${app.name} changed since version ${patch.expectedVersion} (now ${app.version})`,
            {
              current: app.version,
            },
          );
        if (patch.description !== undefined) next.description = patch.description;
        if (patch.scheduling !== undefined) next.scheduling = schedulingOf(patch.scheduling);
        if (patch.spec !== undefined) {
          next.spec = { containers: containersOf(app.type, patch.spec.containers) };
          await checkSecrets(deps, ws, ns, next.spec.containers);
        }
        if (patch.rollout !== undefined)
          next.rollout = {
            maxUnavailable: patch.rollout.maxUnavailable ?? app.rollout.maxUnavailable,
            minReadySeconds: patch.rollout.minReadySeconds ?? app.rollout.minReadySeconds,
          };
        if (patch.stopGracePeriodSeconds !== undefined)
          next.stopGracePeriodSeconds = patch.stopGracePeriodSeconds;
        const changed =
          JSON.stringify([next.spec, next.scheduling, next.stopGracePeriodSeconds]) !==
          JSON.stringify([app.spec, app.scheduling, app.stopGracePeriodSeconds]);
        if (changed) next.version = app.version + 1;
        if (
          !changed &&
          next.description === app.description &&
          JSON.stringify(next.rollout) === JSON.stringify(app.rollout)
        )
          return done(app);
      }
      next.revision = app.revision + 1;
      next.updatedAt = deps.clock.now().toISOString();
      const committed = await deps.repos.commit([deps.repos.applications.replace(app, next)]);
      return committed.ok ? done(next) : reread;
    },
  });
  await reconcile(saved);
  return view(deps, saved);
}

/** 202: it turns `deleting`; the reconciler removes every deployment, then the application. */
export async function deleteApplication(
  deps: ApplicationDeps,
  ws: string,
  ns: string,
  ref: string,
  reconcile: (app: Application) => Promise<void>,
): Promise<ApplicationView> {
  const deleting = await mutate({
    what: `application ${ref}`,
    read: () => findApplication(deps, ws, ns, ref),
    async attempt(current) {
      const app = current!;
      if (app.status === "deleting") return done(app);
      const next: Application = {
        ...app,
        status: "deleting",
        revision: app.revision + 1,
        updatedAt: deps.clock.now().toISOString(),
      };
      const committed = await deps.repos.commit([deps.repos.applications.replace(app, next)]);
      return committed.ok ? done(next) : reread;
    },
  });
  await reconcile(deleting);
  const still = await deps.repos.applications.get(deleting.id);
  return applicationView(
    still ?? deleting,
    still ? await deps.repos.deployments.counts(deleting.id) : NO_COUNTS,
  );
}

/** `GET /devices/{id}/applications`: the deployments on a device (Synpse `Device.applications`). */
export async function deviceApplications(deps: ApplicationDeps, ws: string, deviceId: string) {
  await ownDevice(deps, ws, deviceId);
  const items = [];
  for (const d of await deps.repos.deployments.onDevice(deviceId)) {
    const app = await deps.repos.applications.get(d.applicationId);
    if (app?.workspaceId === ws)
      items.push({ ...deploymentView(d), name: app.name, namespace: app.namespace });
  }
  return { items };
}

/**
 * A secret of a namespace was created or given a new value: every application there that uses it (its
 * containers, or as the namespace's registry password) gets `configVersion + 1` (applications.md §2), so it
 * is redeployed through its rollout budget with the new value (and a deployment that failed for want of it is
 * tried again).
 */
export async function secretChanged(
  deps: ApplicationDeps,
  ws: string,
  ns: string,
  name: string,
  reconcile: (app: Application) => Promise<void>,
): Promise<void> {
  const namespace = await deps.repos.namespaces.get(ws, ns);
  await redeployWhere(deps, ws, ns, (app) => usesSecret(app, name, namespace), reconcile, `secret ${name}`);
}

/** A namespace's `registryAuthentication` changed: its container applications pull with the new one (§1). */
export const registryChanged = (
  deps: ApplicationDeps,
  ws: string,
  ns: string,
  reconcile: (app: Application) => Promise<void>,
) => redeployWhere(deps, ws, ns, (app) => app.type === "container", reconcile, "registry credentials");

/** `configVersion + 1` for each active application of the namespace that `uses` says, then its reconcile. */
async function redeployWhere(
  deps: ApplicationDeps,
  ws: string,
  ns: string,
  uses: (app: Application) => boolean,
  reconcile: (app: Application) => Promise<void>,
  what: string,
): Promise<void> {
  // Every one bumped (and queued) first, the passes after: one that fails, or a request cut short, leaves
  // the others bumped and in the queue, where the sweeper passes them.
  const bumped: Application[] = [];
  for (const app of await deps.repos.applications.ofWorkspace(ws)) {
    if (app.namespace !== ns || app.status !== "active" || !uses(app)) continue;
    await deps.repos.applications.markDirty(app.id, deps.clock.now().toISOString());
    const saved = await mutate({
      what: `application ${app.name}`,
      read: () => deps.repos.applications.get(app.id),
      async attempt(current) {
        if (current?.status !== "active") return done(undefined);
        const next: Application = {
          ...current,
          configVersion: current.configVersion + 1,
          revision: current.revision + 1,
          updatedAt: deps.clock.now().toISOString(),
        };
        return (await deps.repos.commit([deps.repos.applications.replace(current, next)])).ok
          ? done(next)
          : reread;
      },
    });
    if (saved) {
      deps.logger.info(`${what} changed: application redeployed`, { applicationId: app.id });
      bumped.push(saved);
    }
  }
  for (const app of bumped)
    await reconcile(app).catch((err: Error) =>
      deps.logger.error("reconciling a redeployed application failed; the sweeper goes on with it", {
        applicationId: app.id,
        error: err.message,
      }),
    );
}
