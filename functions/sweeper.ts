import { agentHostsAnswer, lambdaDeps } from "../hosts/lambda.ts";
import { sweepApplications } from "../shared/usecases/applications/reconcile.ts";
import { requeueQueued } from "../shared/usecases/cloud/cloud-reconcile.ts";
import type { CloudJobDeps } from "../shared/usecases/deps.ts";
import { sweepExpired, sweepJobs } from "../shared/usecases/feed/sweep.ts";
import { sweepLabs } from "../shared/usecases/labs/images.ts";
import { sweepNamespaces } from "../shared/usecases/namespaces/sweep.ts";

const { deps } = lambdaDeps();

/**
 * Scheduled by infra/cron.ts: expires reservations, fails jobs of lost devices, places waiting jobs, and
 * enqueues cloud work whose provision message was lost, finishes deleting namespaces, and reconciles
 * applications (those queued, and all of them every 10 minutes).
 */
export const handler = async () => {
  const expired = await sweepExpired(deps);
  // Scheduled each minute: three missed runs (or a host agents use not answering) is an outage, not lost devices.
  const { lost } = await sweepJobs(deps, {
    gapMs: Math.max(180, deps.config.deviceTtlSeconds) * 1000,
    apiUp: agentHostsAnswer,
  });
  const requeued = deps.cloud ? await requeueQueued(deps as CloudJobDeps) : 0;
  const namespacesDeleted = await sweepNamespaces(deps);
  // Queued applications each run, every one every 10 minutes.
  // (Passes cut short at 200 devices go on for up to 30 s of the run's 55.)
  const applications = await sweepApplications(deps, { passBudgetMs: 30_000 });
  // Lab spawns past their timeout, and a prepuller round where one is due.
  const labs = await sweepLabs(deps);
  return { expired, lost, requeued, namespacesDeleted, applications, labs };
};
