/**
 * Sessions in a DynamoDB table, through the DynamoDBClient the application already has
 * (@aws-sdk/client-dynamodb v3). The table has one string partition key, `id`, and no sort key.
 *
 * One session is one item { id: key, d: data | z: deflated data, e: expiresAt ms, v: version,
 * o: owner?, ttl: expiresAt in epoch seconds }. `ttl` is the table's TTL attribute, so DynamoDB
 * deletes expired items itself (no gc), but that deletion lags by up to days: every read checks
 * `e` against the application's clock as well. Every read is strongly consistent (ConsistentRead):
 * an eventually consistent read could still return a session a logout has just deleted.
 *
 * Compare-and-set is a conditional write on `v`. DynamoDB's update expressions cannot compute
 * max(), so a write over a live record first applies on the condition "stored expiry <= written"
 * and, only when that check fails, retries keeping the stored expiry on "stored expiry > written".
 *
 * Data above 1 KiB is stored deflated (raw DEFLATE, a Binary attribute): an item may hold 400 KB,
 * and write units are billed per KB. No chunking: records spread over several items could not be
 * compare-and-set atomically without transactions, so data that stays above the limit once
 * compressed fails the write (a ValidationException, as a SessionStoreError).
 *
 * The sessions of one owner are listed from an index item { id: "owner#<owner>", s: { key:
 * keepUntil ms }, r: revision, ttl }, written by indexOwner before the record (the manager's
 * order) and read with ConsistentRead, so a listing never misses a live session and a revocation
 * is final. A global secondary index on `o` would be simpler but is only eventually consistent:
 * a sign-in could be missing from it while revokeUser runs. Session keys never contain "#", so
 * no session id can name an index item.
 */
import { promisify } from "node:util";
import { deflateRaw, inflateRaw } from "node:zlib";
import type * as Dynamo from "@aws-sdk/client-dynamodb";
import type { AttributeValue, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { OwnedSession, SessionStore, SessionWrite, StoreCallOptions, StoredSession } from "../core/store.js";
import { requireDriver } from "./driver.js";

export interface DynamoStoreOptions {
  /** A DynamoDBClient you own (region, credentials, retries are yours): the store never destroys it. Required. */
  client: DynamoDBClient;
  /** Default "sessions". DynamoDB's rule: 3-255 characters of [A-Za-z0-9_.-]. */
  tableName?: string;
  /**
   * Default false: creating a table needs account-level IAM rights an application's role rarely
   * has, and a new table takes seconds to become ACTIVE. True creates it (on-demand billing, TTL
   * on `ttl`) lazily before the first call when it is missing; or call applySchema() once.
   */
  createTable?: boolean;
}

type Commands = typeof Dynamo;
type Item = Record<string, AttributeValue>;
/** Any command of the SDK: the client's own overloads tie each command to its output type, which #send takes as a parameter instead. */
type Command = object;

// DynamoDB table names: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
const COMPRESS_ABOVE = 1024;
// Attempts of indexOwner's read-then-conditional-write before it reports contention as a failure.
const INDEX_ATTEMPTS = 16;
// Index entries removed per write: an update expression may be at most 4 KB long.
const PRUNE_BATCH = 50;
const BATCH_GET_LIMIT = 100;
const CONFLICT = "ConditionalCheckFailedException";
const deflate = promisify(deflateRaw);
const inflate = promisify(inflateRaw);

// Every attribute goes through a placeholder: "ttl" and "data"-like words are reserved in expressions.
const NAMES = { "#id": "id", "#d": "d", "#z": "z", "#e": "e", "#v": "v", "#o": "o", "#t": "ttl", "#s": "s", "#r": "r" };

export class DynamoStore implements SessionStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #sdk: Commands;
  #ready: Promise<void> | undefined;

  constructor(options: DynamoStoreOptions) {
    if (options === null || typeof options !== "object") throw new TypeError("DynamoStore needs an options object: { client }");
    const { client, tableName = "sessions", createTable = false } = options;
    if (typeof client?.send !== "function") throw new TypeError('option "client" must be a DynamoDBClient from @aws-sdk/client-dynamodb');
    if (typeof tableName !== "string" || !TABLE_NAME.test(tableName)) {
      throw new TypeError(`option "tableName" must be 3-255 characters of [A-Za-z0-9_.-]; got ${JSON.stringify(tableName)}`);
    }
    if (typeof createTable !== "boolean") throw new TypeError('option "createTable" must be true or false');
    this.#client = client;
    this.#table = tableName;
    this.#sdk = requireDriver<Commands>("@aws-sdk/client-dynamodb", "sessionkit/dynamodb");
    if (!createTable) this.#ready = Promise.resolve();
  }

  async get(key: string, options?: StoreCallOptions): Promise<StoredSession | null> {
    const { Item } = await this.#send<Dynamo.GetItemCommandOutput>(new this.#sdk.GetItemCommand({ TableName: this.#table, Key: { id: { S: key } }, ConsistentRead: true }), options);
    return Item ? recordOf(Item, Date.now()) : null;
  }

  async set(key: string, write: SessionWrite, options?: StoreCallOptions): Promise<boolean> {
    const now = String(Date.now());
    const body = await bodyOf(write);
    if (write.expectedVersion === 0) {
      // A missing or expired record counts as version 0; the whole item is replaced.
      const Item: Item = { id: { S: key }, ...body.item };
      const put = { TableName: this.#table, Item, ConditionExpression: "attribute_not_exists(#id) OR #e <= :now" };
      return this.#applied(new this.#sdk.PutItemCommand({ ...put, ExpressionAttributeNames: { "#id": "id", "#e": "e" }, ExpressionAttributeValues: { ":now": { N: now } } }), options);
    }
    const values = { ...body.values, ":x": { N: String(write.expectedVersion) }, ":now": { N: now }, ":e": body.item.e!, ":t": body.item.ttl! };
    const update = (expression: string, condition: string) =>
      new this.#sdk.UpdateItemCommand({
        TableName: this.#table,
        Key: { id: { S: key } },
        UpdateExpression: expression,
        ConditionExpression: `#v = :x AND #e > :now AND ${condition}`,
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        ExpressionAttributeNames: namesIn(expression, "#v #e"),
        ExpressionAttributeValues: valuesIn(values, `${expression} :x :now ${condition}`),
      });
    // The usual case: the written expiry is the later one. Only when that check fails is the
    // stored one kept, so a slow request never shortens the session. DynamoDB returns the item a
    // failed check saw, so a version conflict costs no second request; dynalite returns none.
    const first = update(`SET ${body.set}, #e = :e, #t = :t ${body.remove}`, "#e <= :e");
    const seen = await this.#conditional(first, options);
    if (seen === true) return true;
    if (seen && !(seen.v?.N === String(write.expectedVersion) && Number(seen.e?.N) > Math.max(Number(now), write.expiresAt))) return false;
    return (await this.#conditional(update(`SET ${body.set} ${body.remove}`, "#e > :e"), options)) === true;
  }

  async destroy(key: string, options?: StoreCallOptions): Promise<void> {
    await this.#send(new this.#sdk.DeleteItemCommand({ TableName: this.#table, Key: { id: { S: key } } }), options);
  }

  /** Writes only a later expiry of a live record; never creates one, never changes data or version. */
  async touch(key: string, expiresAt: number, options?: StoreCallOptions): Promise<void> {
    const command = new this.#sdk.UpdateItemCommand({
      TableName: this.#table,
      Key: { id: { S: key } },
      UpdateExpression: "SET #e = :e, #t = :t",
      ConditionExpression: "attribute_exists(#v) AND #e > :now AND #e < :e",
      ExpressionAttributeNames: { "#e": "e", "#t": "ttl", "#v": "v" },
      ExpressionAttributeValues: { ":e": { N: String(expiresAt) }, ":t": { N: ttlOf(expiresAt) }, ":now": { N: String(Date.now()) } },
    });
    await this.#applied(command, options);
  }

  /**
   * Adds `key` to the owner's index item: a consistent read, then a write conditional on the
   * item's revision (retried when another sign-in of the same user wrote in between). The entry
   * keeps the later of its old and new keepUntil, entries past theirs are dropped, and the item's
   * TTL is never below any entry's keepUntil, so DynamoDB never deletes an index that lists a
   * live session.
   */
  async indexOwner(owner: string, key: string, expiresAt: number, options?: StoreCallOptions): Promise<void> {
    for (let attempt = 0; attempt < INDEX_ATTEMPTS; attempt++) {
      const index = await this.#readIndex(owner, options);
      const now = Date.now();
      const keep = Math.max(expiresAt, index?.entries.get(key) ?? 0);
      const kept = [...(index?.entries ?? [])].filter(([other, until]) => other !== key && until > now);
      const last = Math.max(keep, ...kept.map(([, until]) => until));
      const pruned = index ? [...index.entries].filter(([other, until]) => other !== key && until <= now).slice(0, PRUNE_BATCH) : [];
      const command = index
        ? this.#indexUpdate(owner, {
            expression: `SET #s.#k = :keep, #r = :next, #t = :t${pruned.length > 0 ? ` REMOVE ${pruned.map((_, i) => `#s.#p${i}`).join(", ")}` : ""}`,
            condition: "#r = :rev",
            names: { "#k": key, ...Object.fromEntries(pruned.map(([other], i) => [`#p${i}`, other])) },
            values: { ":keep": { N: String(keep) }, ":next": { N: String(index.revision + 1) }, ":rev": { N: String(index.revision) }, ":t": { N: ttlOf(last) } },
          })
        : this.#indexUpdate(owner, {
            expression: "SET #s = :entries, #r = :next, #t = :t",
            condition: "attribute_not_exists(#id)",
            names: { "#id": "id" },
            values: { ":entries": { M: { [key]: { N: String(keep) } } }, ":next": { N: "1" }, ":t": { N: ttlOf(last) } },
          });
      if (await this.#applied(command, options)) return;
    }
    throw new Error(`DynamoStore.indexOwner: the owner's index item changed under ${INDEX_ATTEMPTS} attempts in a row`);
  }

  /** Removes one entry; on a missing index item it does nothing (an update would create an empty one). */
  async unindexOwner(owner: string, key: string, options?: StoreCallOptions): Promise<void> {
    await this.#applied(this.#indexUpdate(owner, { expression: "REMOVE #s.#k", condition: "attribute_exists(#id)", names: { "#id": "id", "#k": key } }), options);
  }

  /**
   * A consistent read of the owner's index item, then consistent BatchGetItem reads of its
   * entries (100 keys a request). Entries whose record is not that owner's live record are left
   * out; they are removed (one more write, only then, and only if no sign-in wrote the index
   * meanwhile) when the record belongs to someone else or the entry's keepUntil has passed. An
   * entry whose record is missing is kept until then: its sign-in may not have written the record yet.
   */
  async listByOwner(owner: string, options?: StoreCallOptions): Promise<OwnedSession[]> {
    const index = await this.#readIndex(owner, options);
    if (!index || index.entries.size === 0) return [];
    const items = await this.#batchGet([...index.entries.keys()], options);
    const now = Date.now();
    const listed: OwnedSession[] = [];
    const stale: string[] = [];
    for (const [key, until] of index.entries) {
      const item = items.get(key);
      const record = item ? await recordOf(item, now) : null;
      if (record?.owner === owner) listed.push({ key, record });
      else if (record || until <= now) stale.push(key);
    }
    if (stale.length > 0) {
      const pruned = stale.slice(0, PRUNE_BATCH);
      const expression = `REMOVE ${pruned.map((_, i) => `#s.#p${i}`).join(", ")}`;
      const names = Object.fromEntries(pruned.map((key, i) => [`#p${i}`, key]));
      await this.#applied(this.#indexUpdate(owner, { expression, condition: "#r = :rev", names, values: { ":rev": { N: String(index.revision) } } }), options);
    }
    return listed;
  }

  /**
   * A consistent Scan of the whole table, counting items with a version and a future expiry:
   * O(all items), one request per 1 MB of data scanned, billed for every item read. Meant for
   * dashboards, not per request.
   */
  async count(options?: StoreCallOptions): Promise<number> {
    let total = 0;
    let start: Item | undefined;
    const now = String(Date.now());
    do {
      const page = await this.#send<Dynamo.ScanCommandOutput>(
        new this.#sdk.ScanCommand({
          TableName: this.#table,
          ConsistentRead: true,
          Select: "COUNT",
          FilterExpression: "attribute_exists(#v) AND #e > :now",
          ExpressionAttributeNames: { "#v": "v", "#e": "e" },
          ExpressionAttributeValues: { ":now": { N: now } },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
        options,
      );
      total += page.Count ?? 0;
      start = page.LastEvaluatedKey;
    } while (start);
    return total;
  }

  /**
   * Creates the table now if it is missing, as `createTable` would, whatever that option says:
   * on-demand billing (PAY_PER_REQUEST), partition key `id`, then TTL on `ttl`. An emulator
   * without UpdateTimeToLive (dynalite) gets the table without native expiry, which only costs
   * storage: reads never return an expired session either way.
   */
  async applySchema(): Promise<void> {
    const { CreateTableCommand, UpdateTimeToLiveCommand, waitUntilTableExists } = this.#sdk;
    try {
      await this.#client.send(
        new CreateTableCommand({
          TableName: this.#table,
          AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
          KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
          BillingMode: "PAY_PER_REQUEST",
        }),
      );
    } catch (error) {
      if (errorName(error) !== "ResourceInUseException") throw error; // it exists (or is being created by another process)
    }
    await waitUntilTableExists({ client: this.#client, minDelay: 1, maxDelay: 5, maxWaitTime: 300 }, { TableName: this.#table });
    try {
      await this.#client.send(new UpdateTimeToLiveCommand({ TableName: this.#table, TimeToLiveSpecification: { AttributeName: "ttl", Enabled: true } }));
    } catch (error) {
      const alreadyOn = errorName(error) === "ValidationException" && /already enabled/i.test((error as Error).message);
      if (!alreadyOn && errorName(error) !== "UnknownOperationException") throw error;
    }
  }

  /** Nothing to release: the client is the application's. */
  close(): void {}

  async #readIndex(owner: string, options?: StoreCallOptions): Promise<{ entries: Map<string, number>; revision: number } | undefined> {
    const { Item } = await this.#send<Dynamo.GetItemCommandOutput>(new this.#sdk.GetItemCommand({ TableName: this.#table, Key: { id: { S: indexId(owner) } }, ConsistentRead: true }), options);
    if (!Item) return undefined;
    const entries = new Map(Object.entries(Item.s?.M ?? {}).map(([key, until]) => [key, Number(until.N)]));
    return { entries, revision: Number(Item.r?.N ?? 0) };
  }

  #indexUpdate(owner: string, update: { expression: string; condition: string; names: Record<string, string>; values?: Item }) {
    return new this.#sdk.UpdateItemCommand({
      TableName: this.#table,
      Key: { id: { S: indexId(owner) } },
      UpdateExpression: update.expression,
      ConditionExpression: update.condition,
      ExpressionAttributeNames: { ...namesIn(`${update.expression} ${update.condition}`, ""), ...update.names },
      ...(update.values ? { ExpressionAttributeValues: update.values } : {}),
    });
  }

  async #batchGet(keys: string[], options?: StoreCallOptions): Promise<Map<string, Item>> {
    const found = new Map<string, Item>();
    for (let i = 0; i < keys.length; i += BATCH_GET_LIMIT) {
      let pending: Dynamo.KeysAndAttributes | undefined = { Keys: keys.slice(i, i + BATCH_GET_LIMIT).map((key) => ({ id: { S: key } })), ConsistentRead: true };
      // Keys DynamoDB did not get to (throttling, or 16 MB of answer) come back as UnprocessedKeys.
      while (pending?.Keys?.length) {
        const reply: Dynamo.BatchGetItemCommandOutput = await this.#send<Dynamo.BatchGetItemCommandOutput>(new this.#sdk.BatchGetItemCommand({ RequestItems: { [this.#table]: pending } }), options);
        for (const item of reply.Responses?.[this.#table] ?? []) found.set(item.id!.S!, item);
        pending = reply.UnprocessedKeys?.[this.#table];
      }
    }
    return found;
  }

  /** Sends a conditional write; a failed condition is "not applied", never an error. */
  async #applied(command: Command, options?: StoreCallOptions): Promise<boolean> {
    return (await this.#conditional(command, options)) === true;
  }

  /** True when the write applied; else the item the failed condition saw, when DynamoDB returned it. */
  async #conditional(command: Command, options?: StoreCallOptions): Promise<true | Item | undefined> {
    try {
      await this.#send(command, options);
      return true;
    } catch (error) {
      if (errorName(error) === CONFLICT) return (error as { Item?: Item }).Item;
      throw error;
    }
  }

  async #send<Output = unknown>(command: Command, options?: StoreCallOptions): Promise<Output> {
    await (this.#ready ??= this.#createTable());
    return (await this.#client.send(command as Parameters<DynamoDBClient["send"]>[0], options?.signal ? { abortSignal: options.signal } : {})) as Output;
  }

  async #createTable(): Promise<void> {
    try {
      await this.applySchema();
    } catch (error) {
      this.#ready = undefined; // a service that was unreachable at start-up gets another try on the next call
      throw error;
    }
  }
}

const indexId = (owner: string) => `owner#${owner}`;
const ttlOf = (expiresAt: number) => String(Math.ceil(expiresAt / 1000));
const errorName = (error: unknown) => (error as { name?: string } | null)?.name;

/** The item attributes of a write, and the same as SET/REMOVE clauses with their values. */
async function bodyOf(write: SessionWrite) {
  const bytes = Buffer.from(write.data, "utf8");
  const compressed = bytes.length > COMPRESS_ABOVE;
  const data: AttributeValue = compressed ? { B: await deflate(bytes) } : { S: write.data };
  const item: Item = { [compressed ? "z" : "d"]: data, e: { N: String(write.expiresAt) }, v: { N: String(write.version) }, ttl: { N: ttlOf(write.expiresAt) } };
  if (write.owner !== undefined) item.o = { S: write.owner };
  const set = [compressed ? "#z = :data" : "#d = :data", "#v = :v", ...(write.owner !== undefined ? ["#o = :o"] : [])].join(", ");
  const removed = [compressed ? "#d" : "#z", ...(write.owner === undefined ? ["#o"] : [])];
  const values: Item = { ":data": data, ":v": item.v!, ...(item.o ? { ":o": item.o } : {}) };
  return { item, set, remove: `REMOVE ${removed.join(", ")}`, values };
}

async function recordOf(item: Item, now: number): Promise<StoredSession | null> {
  const expiresAt = Number(item.e?.N);
  if (!(expiresAt > now) || item.v === undefined) return null;
  const data = item.z?.B ? (await inflate(item.z.B)).toString("utf8") : (item.d?.S ?? "");
  const record: StoredSession = { data, expiresAt, version: Number(item.v.N) };
  if (item.o?.S !== undefined) record.owner = item.o.S;
  return record;
}

/** The attribute-name placeholders an expression uses (DynamoDB rejects unused ones). */
function namesIn(expression: string, extra: string): Record<string, string> {
  const used = new Set(`${expression} ${extra}`.match(/#\w+/g));
  return Object.fromEntries(Object.entries(NAMES).filter(([name]) => used.has(name)));
}

/** The value placeholders an expression uses (DynamoDB rejects unused ones). */
function valuesIn(values: Item, expression: string): Item {
  const used = new Set(expression.match(/:\w+/g));
  return Object.fromEntries(Object.entries(values).filter(([name]) => used.has(name)));
}
