import { sweepExpired } from "../shared/usecases/sweep.ts";
import { lambdaDeps } from "./lambda-deps.ts";

const deps = lambdaDeps();

/** Scheduled by infra/cron.ts: expires reservations past their duration. */
export const handler = async () => ({ expired: await sweepExpired(deps) });
