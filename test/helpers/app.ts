import { buildAppDeps } from "../../hosts/app-deps.ts";
import { silentLogger } from "../../shared/adapters/logger.ts";
import { sqliteStore } from "../../shared/adapters/sqlite/sqlite-store.ts";
import { createApp } from "../../shared/app/create-app.ts";
import type { AppDeps } from "../../shared/app/deps.ts";
import { AppConfig } from "../../shared/config.ts";
import type { Role } from "../../shared/domain/roles.ts";
import { newServerSecret } from "../../shared/domain/secrets.ts";
import type { Clock } from "../../shared/ports/clock.ts";
import type { CloudDeps } from "../../shared/ports/cloud.ts";
import type { FeedWatcher } from "../../shared/ports/feed-watcher.ts";
import type { Logger } from "../../shared/ports/logger.ts";
import type { Store } from "../../shared/ports/store.ts";
import { createApiKey } from "../../shared/usecases/identity/api-keys.ts";
import { bootstrapWorkspace } from "../../shared/usecases/identity/bootstrap.ts";

export interface TestApp {
  app: ReturnType<typeof createApp>;
  deps: AppDeps;
  /** The app's store (a fresh in-memory SQLite unless one was given). */
  db: Store;
  /** Admin key of workspace `default`. */
  admin: string;
  /** A new workspace with an admin key, for cross-workspace checks. */
  workspace(id: string): Promise<string>;
  /** A key of `role` in `workspace`. */
  key(role: (typeof Role)[keyof typeof Role], workspace?: string): Promise<string>;
  /** Sends a request with a bearer token and a JSON body. */
  call(
    method: string,
    path: string,
    opts?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<Response>;
}

/** The real app on a fresh store (in-memory SQLite by default), bootstrapped like the local server. */
export async function testApp(
  opts: {
    store?: Store;
    clock?: Clock;
    logger?: Logger;
    config?: Partial<AppConfig>;
    feedWatcher?: FeedWatcher;
    cloud?: CloudDeps;
  } = {},
): Promise<TestApp> {
  const db = opts.store ?? sqliteStore(":memory:");
  const deps = buildAppDeps({
    store: db,
    serverSecret: newServerSecret(),
    logger: opts.logger ?? silentLogger,
    config: AppConfig.parse(opts.config ?? {}),
    clock: opts.clock,
    feedWatcher: opts.feedWatcher,
    cloud: opts.cloud,
  });
  let admin = "";
  await bootstrapWorkspace(deps, "default", async (token) => {
    admin = token;
  });
  const app = createApp(deps);
  return {
    app,
    deps,
    db,
    admin,
    async workspace(id) {
      let token = "";
      await bootstrapWorkspace(deps, id, async (t) => {
        token = t;
      });
      return token;
    },
    async key(role, workspace = "default") {
      return (await createApiKey(deps, workspace, { name: `${role}-key`, role })).token;
    },
    call(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      if (o.token) headers.authorization = `Bearer ${o.token}`;
      if (o.body !== undefined) headers["content-type"] ??= "application/json";
      return Promise.resolve(
        app.request(path, {
          method,
          headers,
          body:
            o.body === undefined ? undefined : typeof o.body === "string" ? o.body : JSON.stringify(o.body),
        }),
      );
    },
  };
}

/** Reads the error envelope of a response. */
export async function errorOf(
  res: Response,
): Promise<{ status: number; code: string; message: string; details?: unknown }> {
  const body = (await res.json()) as { error: { code: string; message: string; details?: unknown } };
  return { status: res.status, ...body.error };
}
