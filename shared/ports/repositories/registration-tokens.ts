import type { RegistrationToken } from "../../domain/registration-token.ts";
import type { Page, PageRequest } from "../pagination.ts";
import type { Write } from "./write.ts";

export type RegistrationTokenPatch = Partial<
  Pick<
    RegistrationToken,
    "name" | "description" | "labels" | "environmentVariables" | "namingStrategy" | "keylessRelogin"
  >
> & {
  /** null removes the field */
  maxRegistrations?: number | null;
  nodeGroup?: string | null;
  expiresAt?: string | null;
};

export interface RegistrationTokenRepository {
  /** Throws Conflict when the id is taken. */
  create(token: RegistrationToken): Promise<void>;
  get(id: string): Promise<RegistrationToken | undefined>;
  list(workspaceId: string, page: PageRequest): Promise<Page<RegistrationToken>>;
  /** Throws NotFound unless the token exists in that workspace. */
  update(
    workspaceId: string,
    id: string,
    patch: RegistrationTokenPatch,
    at: string,
  ): Promise<RegistrationToken>;
  /** Throws NotFound unless the token exists in that workspace. */
  delete(workspaceId: string, id: string): Promise<void>;
  /**
   * Counts one registration, with the cap and the expiry in its condition: it fails when the token is gone,
   * expired at `now`, or at `maxRegistrations`.
   */
  claim(id: string, now: string): Write;
  /** Gives a registration back (its device was deleted); fails when the token is gone or its count is 0. */
  release(id: string): Write;
}
