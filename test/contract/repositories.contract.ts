import { afterAll, beforeAll, describe } from "vitest";
import type { Db } from "../../shared/adapters/dynamo/client.ts";
import { dynamoRepositories } from "../../shared/adapters/dynamo/repositories.ts";
import type { Engine } from "../../shared/adapters/local/engines.ts";
import type { Repositories } from "../../shared/ports/repositories.ts";
import { type EngineName, freshTable, startEngine } from "../helpers/engines.ts";
import { apiKeyContract } from "./suites/api-keys.ts";
import { cloudReservationContract } from "./suites/cloud-reservations.ts";
import { deviceContract } from "./suites/devices.ts";
import { feedContract } from "./suites/feed.ts";
import { jobContract } from "./suites/jobs.ts";
import { nodeGroupContract } from "./suites/node-groups.ts";
import { outputContract } from "./suites/output.ts";
import { registrationTokenContract } from "./suites/registration-tokens.ts";
import { reservationContract } from "./suites/reservations.ts";
import { workspaceContract } from "./suites/workspaces.ts";

/**
 * The behaviour every storage engine must show, run against dynalite in every run and against
 * DynamoDB Local wherever Java exists (test/contract/*.test.ts pick the engine). One suite per
 * repository, in ./suites, all on one table.
 */
export function repositoryContract(engineName: EngineName) {
  describe(`repositories on ${engineName}`, () => {
    let engine: Engine;
    let db: Db;
    let repos: Repositories;
    beforeAll(async () => {
      engine = await startEngine(engineName);
      db = await freshTable(engine);
      repos = dynamoRepositories(db);
    }, 90_000);
    afterAll(async () => {
      db?.doc.destroy();
      await engine?.stop();
    });
    const ctx = { repos: () => repos, db: () => db };

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
  });
}
