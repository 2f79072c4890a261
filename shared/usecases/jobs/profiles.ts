import type { z } from "zod";
import type { CreateProfileRequest, ProfileView, UpdateProfileRequest } from "../../contracts/profiles.ts";
import { invalidRequest, notFound } from "../../domain/errors.ts";
import type { ResourceLimit } from "../../domain/job.ts";
import { readLimits } from "../../domain/resource-limits.ts";
import type { Clock } from "../../ports/clock.ts";
import type { Page, PageRequest } from "../../ports/pagination.ts";
import type { Repositories } from "../../ports/repositories.ts";

type Deps = { repos: Repositories; clock: Clock };

/** Resource profiles (jobs.md §8): named sizes a job can ask for by name. */
export async function createProfile(
  deps: Deps,
  workspaceId: string,
  input: CreateProfileRequest,
): Promise<ProfileView> {
  await queueExists(deps, workspaceId, input.queue);
  checkProfileLimits(input.limits);
  const now = deps.clock.now().toISOString();
  const profile: ProfileView = { ...input, createdAt: now, updatedAt: now };
  await deps.repos.profiles.create(workspaceId, profile);
  return profile;
}

export async function getProfile(deps: Deps, workspaceId: string, name: string): Promise<ProfileView> {
  const profile = await deps.repos.profiles.get(workspaceId, name);
  if (!profile) throw notFound(`profile ${name} not found`);
  return profile;
}

export const listProfiles = (
  deps: Deps,
  workspaceId: string,
  page: PageRequest,
): Promise<Page<ProfileView>> => deps.repos.profiles.list(workspaceId, page);

/** Jobs already submitted with the profile keep what they got. */
export async function updateProfile(
  deps: Deps,
  workspaceId: string,
  name: string,
  patch: UpdateProfileRequest,
) {
  await queueExists(deps, workspaceId, patch.queue ?? undefined);
  if (patch.limits) checkProfileLimits(patch.limits);
  return deps.repos.profiles.update(workspaceId, name, patch, deps.clock.now().toISOString());
}

/**
 * A profile's limits are what its container jobs run with: ones Berth cannot enforce (cpuTime, an unknown
 * type) or that do not read are refused when the profile is written, not at each job's submit.
 */
function checkProfileLimits(limits: z.infer<typeof ResourceLimit>[]) {
  const [problem] = readLimits(limits).problems;
  if (problem) throw problem;
}

/** A profile's queue is a node group of the workspace: one that does not exist would place nothing, ever. */
async function queueExists(deps: Deps, workspaceId: string, queue: string | undefined) {
  if (queue === undefined) return;
  if (!(await deps.repos.nodeGroups.get(workspaceId, queue)))
    throw invalidRequest(
      `queue ${queue}: no such node group in this workspace; create it first (berth node-groups create ${queue}) or name another`,
    );
}

export const deleteProfile = (deps: Deps, workspaceId: string, name: string) =>
  deps.repos.profiles.delete(workspaceId, name);
