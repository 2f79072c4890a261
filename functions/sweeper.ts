import { sweepExpired, sweepJobs } from "../shared/usecases/sweep.ts";
import { lambdaDeps } from "./lambda-deps.ts";

const deps = lambdaDeps();

/** Scheduled by infra/cron.ts: expires reservations, fails jobs of lost devices, places waiting jobs. */
export const handler = async () => {
  const expired = await sweepExpired(deps);
  const { lost } = await sweepJobs(deps);
  return { expired, lost };
};
