import { repositoryContract } from "./repositories.contract.ts";

repositoryContract("dynalite");
