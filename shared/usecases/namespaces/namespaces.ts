import type {
  CreateNamespaceRequest,
  NamespaceView,
  UpdateNamespaceRequest,
} from "../../contracts/namespaces.ts";
import { BerthError, conflict, ErrorCode, invalidRequest, notFound } from "../../domain/errors.ts";
import { newId } from "../../domain/ids.ts";
import { DEFAULT_NAMESPACE, type Namespace, type NamespaceConfig } from "../../domain/namespace.ts";
import type { Background } from "../../ports/background.ts";
import type { Logger } from "../../ports/logger.ts";
import type { Page, PageRequest } from "../../ports/pagination.ts";
import { createCounted } from "../counted.ts";
import type { StoreDeps } from "../deps.ts";
import { done, mutate, reread } from "../mutate.ts";

export type NamespaceDeps = StoreDeps;

export const namespaceView = (ns: Namespace): NamespaceView => ({
  id: ns.id,
  name: ns.name,
  description: ns.description,
  config: ns.config,
  status: ns.status,
  applicationCount: Math.max(0, ns.applicationCount),
  secretCount: Math.max(0, ns.secretCount),
  createdAt: ns.createdAt,
  updatedAt: ns.updatedAt,
});

const missing = (name: string) => notFound(`namespace ${name} not found`);

export const namespaceDeleting = (name: string) =>
  new BerthError(
    ErrorCode.NamespaceDeleting,
    `namespace ${name} is being deleted; nothing new can be created in it (create it again once it is gone)`,
  );

function newNamespace(deps: NamespaceDeps, workspaceId: string, input: CreateNamespaceRequest): Namespace {
  const now = deps.clock.now().toISOString();
  return {
    id: newId(),
    workspaceId,
    name: input.name,
    description: input.description,
    config: {},
    status: "active",
    secretCount: 0,
    applicationCount: 0,
    revision: 1,
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * A namespace as stored. `default` always exists: a workspace made before namespaces has no item for it, so
 * the first read makes one (two at once: one is stored, both read it).
 */
export async function findNamespace(
  deps: NamespaceDeps,
  workspaceId: string,
  name: string,
): Promise<Namespace | undefined> {
  const ns = await deps.repos.namespaces.get(workspaceId, name);
  if (ns || name !== DEFAULT_NAMESPACE) return ns;
  // Not counted against maxNamespaces: it is always there.
  await deps.repos.commit([
    deps.repos.namespaces.create(
      newNamespace(deps, workspaceId, {
        name,
        description: "where everything goes that names no namespace",
        config: {},
      }),
    ),
  ]);
  return deps.repos.namespaces.get(workspaceId, name);
}

/** The namespace, or 404. */
export async function namespaceNamed(
  deps: NamespaceDeps,
  workspaceId: string,
  name: string,
): Promise<Namespace> {
  const ns = await findNamespace(deps, workspaceId, name);
  if (!ns) throw missing(name);
  return ns;
}

/** The namespace, if something may be created in it: 404 when there is none, 409 NamespaceDeleting. */
export async function activeNamespace(
  deps: NamespaceDeps,
  workspaceId: string,
  name: string,
): Promise<Namespace> {
  const ns = await namespaceNamed(deps, workspaceId, name);
  if (ns.status === "deleting") throw namespaceDeleting(name);
  return ns;
}

/**
 * The config as it will be stored. Registry credentials name an Environment secret of the namespace itself
 * (Synpse); a literal password is refused, so no credential is ever stored outside a secret.
 */
async function checkedConfig(
  deps: NamespaceDeps,
  workspaceId: string,
  ns: string,
  config: UpdateNamespaceRequest["config"],
  current: NamespaceConfig,
): Promise<NamespaceConfig> {
  if (config === undefined || !("registryAuthentication" in config)) return current;
  const auth = config.registryAuthentication;
  if (!auth) return {};
  const path = "config.registryAuthentication";
  if (auth.password !== undefined)
    throw invalidRequest("put the registry password in a secret and name it in fromSecret", [
      { path: `${path}.password`, message: "use fromSecret" },
    ]);
  const secret = await deps.repos.secrets.get(workspaceId, ns, auth.fromSecret);
  if (!secret)
    throw invalidRequest(`secret ${auth.fromSecret} not found in namespace ${ns}`, [
      { path: `${path}.fromSecret`, message: "no such secret in this namespace" },
    ]);
  if (secret.type !== "Environment")
    throw invalidRequest(
      `secret ${auth.fromSecret} is a File secret; registry credentials need an Environment secret`,
      [{ path: `${path}.fromSecret`, message: "must be an Environment secret" }],
    );
  return {
    registryAuthentication: {
      serverAddress: auth.serverAddress,
      username: auth.username,
      fromSecret: auth.fromSecret,
    },
  };
}

export async function createNamespace(
  deps: NamespaceDeps,
  workspaceId: string,
  input: CreateNamespaceRequest,
): Promise<NamespaceView> {
  const ns = newNamespace(deps, workspaceId, input);
  // A new namespace holds no secret yet: registry credentials can be named once it has one.
  if (input.config.registryAuthentication)
    throw invalidRequest(
      `namespace ${input.name} holds no secret yet: create it, then its secret, then set config.registryAuthentication`,
      [{ path: "config.registryAuthentication", message: "set it once the namespace has the secret" }],
    );
  // Create vs create, and creates near the limit: the namespace only with its count, under the limit read.
  await createCounted(
    deps,
    workspaceId,
    "namespaces",
    async () => {
      const taken = await deps.repos.namespaces.get(workspaceId, input.name);
      if (taken?.status === "deleting") throw namespaceDeleting(input.name);
      if (taken || input.name === DEFAULT_NAMESPACE) throw conflict(`namespace ${input.name} already exists`);
      return [deps.repos.namespaces.create(ns)];
    },
    async () => {}, // taken meanwhile: the next read says by whom
  );
  return namespaceView(ns);
}

export const getNamespace = async (deps: NamespaceDeps, workspaceId: string, name: string) =>
  namespaceView(await namespaceNamed(deps, workspaceId, name));

export async function listNamespaces(
  deps: NamespaceDeps,
  workspaceId: string,
  page: PageRequest,
): Promise<Page<NamespaceView>> {
  if (!page.cursor) await findNamespace(deps, workspaceId, DEFAULT_NAMESPACE);
  const out = await deps.repos.namespaces.list(workspaceId, page);
  return { items: out.items.map(namespaceView), cursor: out.cursor };
}

export async function updateNamespace(
  deps: NamespaceDeps,
  workspaceId: string,
  name: string,
  patch: UpdateNamespaceRequest,
  /** Called once the new registry credentials are stored (their applications are redeployed with them). */
  onRegistryChange?: () => Promise<void>,
): Promise<NamespaceView> {
  let registryChanged = false;
  const view = await mutate({
    what: `namespace ${name}`,
    read: () => findNamespace(deps, workspaceId, name),
    async attempt(current) {
      if (!current) throw missing(name);
      if (current.status === "deleting") throw namespaceDeleting(name);
      const next: Namespace = {
        ...current,
        description: patch.description ?? current.description,
        config: await checkedConfig(deps, workspaceId, name, patch.config, current.config),
      };
      if (
        next.description === current.description &&
        JSON.stringify(next.config) === JSON.stringify(current.config)
      )
        return done(namespaceView(current));
      // Naming a secret vs its deletion: the change holds only while the secret exists (deleteSecret holds
      // only at the revision it read), so one of the two loses and decides again.
      const auth = next.config.registryAuthentication;
      const committed = await deps.repos.commit([
        deps.repos.namespaces.replaceWrite(current, {
          ...next,
          revision: current.revision + 1,
          updatedAt: deps.clock.now().toISOString(),
        }),
        auth && deps.repos.secrets.check(workspaceId, name, auth.fromSecret, "Environment"),
      ]);
      if (!committed.ok) return reread;
      registryChanged =
        JSON.stringify(next.config.registryAuthentication) !==
        JSON.stringify(current.config.registryAuthentication);
      return done(namespaceView((await deps.repos.namespaces.get(workspaceId, name)) ?? next));
    },
  });
  if (registryChanged) await onRegistryChange?.();
  return view;
}

/**
 * Starts deleting a namespace and everything in it (Synpse: "delete namespace and all applications, secrets
 * within it"): it turns `deleting` (nothing new may be created in it), then `sweep` empties it and deletes
 * it, now in the background and again from the sweeper until it is gone. Deleting one already deleting
 * answers the same.
 */
export async function deleteNamespace(
  deps: NamespaceDeps & { background: Background; logger: Logger },
  workspaceId: string,
  name: string,
  sweep: (ns: Namespace) => Promise<void>,
): Promise<NamespaceView> {
  if (name === DEFAULT_NAMESPACE)
    throw invalidRequest("the default namespace cannot be deleted; delete what is in it instead");
  const deleting = await mutate({
    what: `namespace ${name}`,
    read: () => deps.repos.namespaces.get(workspaceId, name),
    async attempt(current) {
      if (!current) throw missing(name);
      if (current.status === "deleting") return done(current);
      const saved = await deps.repos.namespaces.replace(current, {
        ...current,
        status: "deleting",
        revision: current.revision + 1,
        updatedAt: deps.clock.now().toISOString(),
      });
      return saved ? done(saved) : reread;
    },
  });
  await deps.background.run(() => sweep(deleting));
  return namespaceView(deleting);
}
