import type { Profile } from "../../domain/profile.ts";
import type { Page, PageRequest } from "../pagination.ts";

export interface ProfileRepository {
  /** Throws Conflict when the name is taken in the workspace. */
  create(workspaceId: string, profile: Profile): Promise<void>;
  get(workspaceId: string, name: string): Promise<Profile | undefined>;
  list(workspaceId: string, page: PageRequest): Promise<Page<Profile>>;
  /** Throws NotFound. */
  update(workspaceId: string, name: string, patch: Partial<Profile>, at: string): Promise<Profile>;
  /** Throws NotFound. */
  delete(workspaceId: string, name: string): Promise<void>;
}
