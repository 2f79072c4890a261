import { afterAll, beforeAll } from "vitest";
import { repositories } from "../../shared/adapters/repositories/index.ts";
import type { Repositories } from "../../shared/ports/repositories.ts";
import type { Store } from "../../shared/ports/store.ts";
import { forEachEngine, openStore } from "../helpers/engines.ts";
import { apiKeyContract } from "./suites/api-keys.ts";
import { applicationContract } from "./suites/applications.ts";
import { cloudReservationContract } from "./suites/cloud-reservations.ts";
import { clusterContract } from "./suites/cluster.ts";
import { dataKeyContract } from "./suites/data-keys.ts";
import { deviceContract } from "./suites/devices.ts";
import { feedContract } from "./suites/feed.ts";
import { healthContract } from "./suites/health.ts";
import { jobContract } from "./suites/jobs.ts";
import { labContract } from "./suites/labs.ts";
import { nodeGroupContract } from "./suites/node-groups.ts";
import { outputContract } from "./suites/output.ts";
import { registrationTokenContract } from "./suites/registration-tokens.ts";
import { reservationContract } from "./suites/reservations.ts";
import { secretContract } from "./suites/secrets.ts";
import { workspaceContract } from "./suites/workspaces.ts";

/**
 * The behaviour every repository must show, on every storage engine: SQLite always, PostgreSQL and DynamoDB
 * Local wherever they can run (and always in CI). One suite per repository, in ./suites, all on one store.
 */
forEachEngine("repositories", (engine) => {
  let store: Store;
  let repos: Repositories;
  beforeAll(async () => {
    store = await openStore(engine);
    repos = repositories(store);
  }, 90_000);
  afterAll(async () => {
    await store?.close();
  });
  const ctx = { repos: () => repos, db: () => store };

  workspaceContract(ctx);
  apiKeyContract(ctx);
  registrationTokenContract(ctx);
  nodeGroupContract(ctx);
  deviceContract(ctx);
  reservationContract(ctx);
  feedContract(ctx);
  outputContract(ctx);
  jobContract(ctx);
  cloudReservationContract(ctx);
  dataKeyContract(ctx);
  secretContract(ctx);
  applicationContract(ctx);
  labContract(ctx);
  clusterContract(ctx);
  healthContract(ctx);
});
