// The API's types, by the names the UI uses, all taken from schema.d.ts:
// the types `make ui-api` generates from the API server's /openapi.json
// (its kinds' schemas are the CRDs', its bodies those of
// internal/apitypes). Nothing here is written by hand but the names and
// the generic wrappers of what the document leaves untyped (a List's
// items, a WatchEvent's object).

import type { components, operations } from "./schema";

type Schemas = components["schemas"];

export type ObjectMeta = Schemas["ObjectMeta"];
export type Project = Schemas["Project"];
export type Warehouse = Schemas["Warehouse"];
export type Stage = Schemas["Stage"];
export type Freight = Schemas["Freight"];
export type Promotion = Schemas["Promotion"];
export type WhoAmI = Schemas["WhoAmI"];
export type AuthConfig = Schemas["AuthConfig"];
// Status is the body of every error the API answers.
export type Status = Schemas["Status"];
export type Access = Schemas["Access"];
export type Permission = Schemas["Permission"];
// Hold is a Stage's hold or a project's freeze (GET .../freeze).
export type Hold = Schemas["Hold"];
export type Freeze = Schemas["Freeze"];
export type AuditRecord = Schemas["AuditRecord"];
// Gates say whether promotions may start in each Stage now (GET .../gates).
export type Gates = Schemas["Gates"];
export type StageGate = Schemas["StageGate"];
export type WindowDecision = Schemas["WindowDecision"];
export type PromotionCommits = Schemas["PromotionCommits"];
export type ManifestResult = Schemas["ManifestResult"];
export type ObjectResult = Schemas["ObjectResult"];
export type PromotionCommit = Schemas["PromotionCommit"];
export type FileDiff = Schemas["FileDiff"];
export type StepExecution = NonNullable<NonNullable<Promotion["status"]>["steps"]>[number];
export type PromotionStep = NonNullable<NonNullable<Promotion["spec"]>["steps"]>[number];

type StageStatus = NonNullable<Stage["status"]>;
export type Condition = NonNullable<NonNullable<Warehouse["status"]>["conditions"]>[number];
// SimpleFreight is a Stage's reference to Freight.
export type SimpleFreight = NonNullable<StageStatus["currentFreight"]>;
export type PromotionReference = NonNullable<StageStatus["lastPromotion"]>;
export type HealthState = NonNullable<StageStatus["health"]>["status"];
export type Image = NonNullable<Freight["images"]>[number];
export type GitCommit = NonNullable<Freight["commits"]>[number];
export type Chart = NonNullable<Freight["charts"]>[number];

// Kinds as the API's URLs name them: the ones the UI reads.
export type KindPath = Extract<
  operations["listObjects"]["parameters"]["path"]["kind"],
  "warehouses" | "stages" | "freight" | "promotions"
>;

// List is a page of objects of one kind.
export type List<T> = Omit<Schemas["List"], "items"> & { items: T[] };

// WatchEvent is one event of a watch: a change of an object, or (SYNCED,
// RECONNECT, ERROR) news about the stream, which the client handles itself.
export type WatchEvent<T> = Omit<Schemas["WatchEvent"], "object"> & { object: T };
