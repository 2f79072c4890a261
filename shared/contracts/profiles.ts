import { z } from "@hono/zod-openapi";
import { LAUNCHERS } from "../domain/cloud-reservation.ts";
import { Profile } from "../domain/profile.ts";
import { Id, PageQuery, pageOf } from "./common.ts";
import { ConstraintInput, GpusInput, ResourceLimitInput } from "./jobs.ts";

const Name = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be 1-63 lower-case letters, digits or '-'");

/** A named size (jobs.md §8): jobs naming it get its limits, GPUs, queue and constraints. */
export const ProfileFields = z.object({
  displayName: z.string().max(200).default(""),
  limits: z.array(ResourceLimitInput).max(32).default([]),
  gpus: GpusInput.optional(),
  /** A job's queue names are at most 100 characters, and so is a profile's. */
  queue: z.string().max(100).optional(),
  placementConstraints: z.array(ConstraintInput).max(50).default([]),
  /** Which cloud capacity its jobs use when they go to the cloud (default: the control plane's). */
  cloudLauncher: z.enum(LAUNCHERS).optional(),
});

export const CreateProfileRequest = ProfileFields.extend({
  name: Name.refine((n) => n !== "custom", '"custom" means "no profile" and cannot be defined'),
}).openapi("CreateProfileRequest");
export type CreateProfileRequest = z.infer<typeof CreateProfileRequest>;

export const UpdateProfileRequest = ProfileFields.partial().openapi("UpdateProfileRequest");
export type UpdateProfileRequest = z.infer<typeof UpdateProfileRequest>;

export const ProfileView = Profile.extend({}).openapi("Profile");
export type ProfileView = z.infer<typeof ProfileView>;

export const ProfilePage = pageOf(ProfileView).openapi("ProfilePage");
export const ListProfilesQuery = PageQuery;
export const ProfileNameParam = z.object({
  name: Id.openapi({ param: { name: "name", in: "path" } }),
});
