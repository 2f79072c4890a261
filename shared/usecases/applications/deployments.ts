import type { StatusReport } from "../../contracts/reservations.ts";
import type { Deployment, DeploymentState, WorkloadStatus } from "../../domain/application.ts";
import type { Reservation } from "../../domain/reservation.ts";
import type { JobDeps } from "../deps.ts";
import { deploymentGone, withCount } from "./reconcile.ts";

/** The application an `application` reservation belongs to (its signed data names it). */
function applicationOf(r: Reservation): string | undefined {
  try {
    const id = (JSON.parse(r.data) as { application?: { id?: unknown } }).application?.id;
    return typeof id === "string" ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Changes the deployment that runs reservation `r`, if it still does (a successor may have taken its place):
 * conditional on its `v`, read again once when another write came first.
 */
async function changeDeployment(
  deps: JobDeps,
  r: Reservation,
  change: (d: Deployment) => Deployment | undefined,
): Promise<void> {
  const appId = applicationOf(r);
  if (!appId) return;
  for (let attempt = 0; attempt < 3; attempt++) {
    const [d, app] = await Promise.all([
      deps.repos.deployments.get(appId, r.nodeId),
      deps.repos.applications.get(appId),
    ]);
    // Waiting for GPUs, it still names the reservation it will supersede: that one's reports are not its.
    if (!d || !app || d.reservationId !== r.id || d.state === "deleting" || d.waitingFor) return;
    const next = change(d);
    if (!next) return;
    const moved = { ...next, v: d.v + 1 };
    if (
      (await deps.repos.commit(withCount(deps, app, d, moved, [deps.repos.deployments.replace(d, moved)]))).ok
    ) {
      // Up, or failed, while a rollout is under way: one that waits on its budget may go on. With
      // minReadySeconds, one up is available only later: the application's passes count it then.
      if (next.state !== d.state) {
        // (minReadySeconds first: it needs no read.)
        if (app.rollout.minReadySeconds > 0 || (await rolloutUnderWay(deps, appId)))
          await deps.applicationChanged(appId);
      }
      return;
    }
  }
}

/** Some deployment of the application is behind its version (its counts say so: one read). */
async function rolloutUnderWay(deps: JobDeps, appId: string): Promise<boolean> {
  const counts = await deps.repos.deployments.counts(appId);
  return counts.updated < counts.total;
}

/** Synpse's container states rolled up: every one running is running; one failed (no restart left) fails it. */
export function deploymentStateOf(containers: WorkloadStatus[]): DeploymentState {
  if (containers.some((c) => c.state === "failed")) return "failed";
  if (containers.length > 0 && containers.every((c) => c.state === "running")) return "running";
  return "pending";
}

/** `POST /agent/reservations/{id}/status` of an application: its containers, and the deployment's state. */
export async function deploymentStatusReported(
  deps: JobDeps,
  r: Reservation,
  containers: NonNullable<StatusReport["containers"]>,
): Promise<void> {
  const now = deps.clock.now().toISOString();
  await changeDeployment(deps, r, (d) => {
    const statuses: WorkloadStatus[] = containers.map((c) => ({ ...c, timestamp: now }));
    const state = deploymentStateOf(statuses);
    const failed = statuses.find((c) => c.state === "failed");
    return {
      ...d,
      containers: statuses,
      state,
      message: failed
        ? `container ${failed.name}: ${failed.message || "failed"}`
        : state === "running"
          ? ""
          : d.message,
      // Up since: as before (a same-spec successor carries it; an unknown blip keeps it), else now.
      availableSince: state === "running" ? (d.availableSince ?? now) : undefined,
      updatedAt: now,
    };
  });
}

/** An application's reservation that could not be applied: its deployment failed, saying why. */
export async function deploymentFailed(deps: JobDeps, r: Reservation, error: string): Promise<void> {
  const now = deps.clock.now().toISOString();
  await changeDeployment(deps, r, (d) => ({
    ...d,
    state: "failed",
    message: error,
    availableSince: undefined,
    updatedAt: now,
  }));
}

/** The device removed an application's reservation: a deployment that was leaving goes. */
export async function deploymentRemoved(deps: JobDeps, r: Reservation): Promise<void> {
  const appId = applicationOf(r);
  if (appId) await deploymentGone(deps, appId, r.nodeId, r.id);
}
