import { lambdaDeps } from "../hosts/lambda.ts";
import { reconcileCloud } from "../shared/usecases/cloud/cloud-reconcile.ts";
import type { CloudJobDeps } from "../shared/usecases/deps.ts";

const { deps } = lambdaDeps();

/** Scheduled by infra/workers.ts: looks up cloud tasks not heard of for a while (lost events, dead workers). */
export const handler = async () => (deps.cloud ? reconcileCloud(deps as CloudJobDeps) : undefined);
