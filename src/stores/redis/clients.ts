/**
 * The Redis and Valkey clients RedisStore accepts, recognised by their shape (no driver is
 * imported), and one Driver per client kind: send a command, send a batch down one connection
 * (a write and its WAIT), list the masters, quit. What differs between clients stays here, so
 * the store itself speaks one command interface.
 */
import type { StoreCallOptions } from "../../core/store.js";

/** node-redis 4+ `createClient()`. */
export interface NodeRedisClientLike {
  sendCommand(args: string[], options?: NodeRedisCommandOptions): Promise<unknown>;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
}

/** node-redis 5+ drops a queued, unsent command whose signal aborts, and a release with command timeouts one whose timeout fired; 4 ignores both. */
export interface NodeRedisCommandOptions {
  abortSignal?: AbortSignal;
  timeout?: number;
}

/** node-redis 4+ `createCluster()`. */
export interface NodeRedisClusterLike {
  readonly masters: readonly { address: string }[];
  nodeClient(node: { address: string }): Promise<NodeRedisClientLike> | NodeRedisClientLike;
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[], options?: NodeRedisCommandOptions): Promise<unknown>;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
}

/** node-redis 5+ `createSentinel()`: commands go to the master Sentinel names. */
export interface NodeRedisSentinelLike {
  sendCommand(isReadonly: boolean | undefined, args: string[], options?: NodeRedisCommandOptions): Promise<unknown>;
  /** Leases one master connection: WAIT must follow the write on the connection that sent it. */
  use<T>(run: (client: { sendCommand: NodeRedisSentinelLike["sendCommand"] }) => Promise<T>): Promise<T>;
  /** node-redis 5+: runs `run` on one pooled master client, without use()'s lease (which costs tens of ms). */
  _execute?<T>(isReadonly: boolean | undefined, run: (client: NodeRedisClientLike) => Promise<T>): Promise<T>;
  close(): Promise<unknown>;
}

/** ioredis `new Redis()` (also with `sentinels`); a `new Cluster()` also has `nodes()`. */
export interface IoRedisLike {
  call(command: string, args: (string | number)[]): Promise<unknown>;
  quit(): Promise<unknown>;
  nodes?(role: "master"): IoRedisLike[];
  /** Routes a batch to one node by its keys, so a keyless WAIT goes where the write went. */
  pipeline?(commands: string[][]): { exec(): Promise<[Error | null, unknown][] | null> };
}

/**
 * Valkey GLIDE (@valkey/valkey-glide) `GlideClient` or `GlideClusterClient`: every command goes
 * through customCommand, routed in a cluster to the primary of the key's slot.
 */
export interface GlideClientLike {
  /** `decoder` is named only so GlideClient's options type (which has no route) matches; the store never sets it. */
  customCommand(args: string[], options?: { route?: GlideRoute; decoder?: never }): Promise<unknown>;
  close(errorMessage?: string): void;
  /** Only a GlideClusterClient has it: how a cluster client is told from a standalone one. */
  invokeScriptWithRoute?: unknown;
}

/** The GLIDE routes the store uses. */
export type GlideRoute = "allPrimaries" | { type: "primarySlotKey"; key: string } | { type: "routeByAddress"; host: string; port: number };

export type RedisClientLike = NodeRedisClientLike | NodeRedisClusterLike | NodeRedisSentinelLike | IoRedisLike | GlideClientLike;

export type Command = (args: string[]) => Promise<unknown>;

export interface Driver {
  /** Sends one command; `key` routes it to the right master in a cluster. */
  send(key: string, args: string[], call?: StoreCallOptions): Promise<unknown>;
  /** Sends commands on one connection in one round trip (WAIT counts that connection's writes); first error wins. */
  batch(key: string, commands: string[][], call?: StoreCallOptions): Promise<unknown[]>;
  /** One command sender per master (one for a standalone server). */
  masters(): Promise<Command[]>;
  quit(): Promise<unknown>;
}

export function driverFor(client: RedisClientLike): Driver {
  const shape = client as Partial<NodeRedisClusterLike & NodeRedisSentinelLike & IoRedisLike & GlideClientLike> | null;
  if (shape && typeof shape.customCommand === "function") return glideDriver(client as GlideClientLike);
  if (shape && typeof shape.call === "function") return ioredisDriver(client as IoRedisLike);
  if (shape && Array.isArray(shape.masters) && typeof shape.nodeClient === "function") return nodeRedisClusterDriver(client as NodeRedisClusterLike);
  if (shape && typeof shape.use === "function" && typeof shape.sendCommand === "function") return nodeRedisSentinelDriver(client as NodeRedisSentinelLike);
  if (shape && typeof shape.sendCommand === "function") return nodeRedisDriver(client as NodeRedisClientLike);
  throw new TypeError(
    'option "client" must be a node-redis client, cluster or sentinel (createClient/createCluster/createSentinel), an ioredis or iovalkey Redis or Cluster, or a Valkey GLIDE client',
  );
}

/** Commands written in the same tick leave on one socket in one write, so this is one round trip. */
export function together(commands: string[][], send: (args: string[]) => Promise<unknown>): Promise<unknown[]> {
  return Promise.all(commands.map(send));
}

function ioredisDriver(client: IoRedisLike): Driver {
  const command = (target: IoRedisLike): Command => (args) => target.call(args[0]!, args.slice(1));
  return {
    send: (_key, args) => command(client)(args),
    batch: async (_key, commands) => {
      if (typeof client.pipeline !== "function") return together(commands, command(client));
      const replies = (await client.pipeline(commands.map((args) => ["call", ...args])).exec()) ?? [];
      const failed = replies.find(([error]) => error);
      if (failed) throw failed[0];
      return replies.map(([, reply]) => reply);
    },
    masters: async () => (typeof client.nodes === "function" ? client.nodes("master") : [client]).map(command),
    quit: () => client.quit(),
  };
}

/**
 * Valkey GLIDE, shimmed onto raw commands (customCommand) so the scripts and replies are the other
 * clients': GLIDE's own script API would cache scripts in its native core instead of EVALSHA's
 * NOSCRIPT fallback. Its replies differ in two places, mapped here: a map reply (HGETALL) comes as
 * [{ key, value }], and a server error as "… NoScriptError: …" instead of "NOSCRIPT …". In a
 * cluster every command is routed to the primary of its key's slot, and count() scans each primary
 * by address. GLIDE applies its own requestTimeout; the manager's signal is not passed.
 */
function glideDriver(client: GlideClientLike): Driver {
  const cluster = client.invokeScriptWithRoute !== undefined;
  const run = async (args: string[], route?: GlideRoute) => {
    try {
      const reply = await client.customCommand(args, route && { route });
      return args[0] === "HGETALL" ? (reply as { key: string; value: string }[]).flatMap(({ key, value }) => [key, value]) : reply;
    } catch (error) {
      const message = String((error as Error)?.message);
      if (/NoScriptError/.test(message)) throw new Error(`NOSCRIPT ${message}`, { cause: error });
      throw error;
    }
  };
  const send = (key: string, args: string[]) => run(args, cluster ? { type: "primarySlotKey", key } : undefined);
  return {
    send,
    // In a cluster one after the other, as for node-redis: a WAIT sent alongside a write that is
    // then redirected could be answered before the write reaches its new primary.
    batch: async (key, commands) => {
      if (!cluster) return together(commands, (args) => send(key, args));
      const replies: unknown[] = [];
      for (const args of commands) replies.push(await send(key, args));
      return replies;
    },
    masters: async () => {
      if (!cluster) return [(args) => run(args)];
      // ECHO has no reply policy, so GLIDE answers per primary, keyed by address (PING's replies are merged into one).
      const primaries = (await client.customCommand(["ECHO", "sessionkit"], { route: "allPrimaries" })) as { key: string }[];
      return primaries.map(({ key: address }) => {
        const at = address.lastIndexOf(":");
        const route: GlideRoute = { type: "routeByAddress", host: address.slice(0, at), port: Number(address.slice(at + 1)) };
        return (args: string[]) => run(args, route);
      });
    },
    quit: async () => client.close(),
  };
}

function nodeRedisDriver(client: NodeRedisClientLike): Driver {
  const command: Command = (args) => client.sendCommand(args);
  const optionsFor = commandOptions(client);
  return {
    send: (_key, args, call) => client.sendCommand(args, optionsFor(call)),
    batch: (_key, commands, call) => {
      const options = optionsFor(call);
      return together(commands, (args) => client.sendCommand(args, options));
    },
    masters: async () => [command],
    quit: () => quitNodeRedis(client),
  };
}

function nodeRedisClusterDriver(cluster: NodeRedisClusterLike): Driver {
  const optionsFor = commandOptions(cluster);
  return {
    send: (key, args, call) => cluster.sendCommand(key, false, args, optionsFor(call)),
    // One after the other, not in one round trip: node-redis 6 sends WAIT to every master (its
    // all_shards policy), planned before a MOVED redirect of the write could land, so a WAIT sent
    // alongside could be answered on the new master before the redirected write reaches it.
    batch: async (key, commands, call) => {
      const options = optionsFor(call);
      const replies: unknown[] = [];
      for (const args of commands) replies.push(await cluster.sendCommand(key, false, args, options));
      return replies;
    },
    masters: () =>
      Promise.all(
        cluster.masters.map(async (master) => {
          const node = await cluster.nodeClient(master);
          return (args: string[]) => node.sendCommand(args);
        }),
      ),
    quit: () => quitNodeRedis(cluster),
  };
}

function nodeRedisSentinelDriver(sentinel: NodeRedisSentinelLike): Driver {
  const command: Command = (args) => sentinel.sendCommand(false, args);
  const optionsFor = commandOptions(sentinel);
  return {
    send: (_key, args, call) => sentinel.sendCommand(false, args, optionsFor(call)),
    batch: (_key, commands, call) => {
      const options = optionsFor(call);
      if (typeof sentinel._execute === "function") return sentinel._execute(false, (master) => together(commands, (args) => master.sendCommand(args, options)));
      return sentinel.use((master) => together(commands, (args) => master.sendCommand(false, args, options)));
    },
    masters: async () => [command],
    quit: () => sentinel.close(),
  };
}

/**
 * node-redis's options for one store call. A node-redis with command timeouts (6, late 5) gives
 * every command a timeout of its own (`commandOptions.timeout`, 5 s by default), and when it
 * fires withdraws a command not yet sent, as it does when a command's signal aborts. A signal
 * costs a listener added and removed per command, so it is passed only to
 * a client without such timeouts. With them, the manager's deadline is passed as the command's
 * timeout when it comes first (one options object per deadline, not per call), and nothing is
 * passed when the client's own comes first (the default: both are 5 s).
 */
function commandOptions(client: object): (call: StoreCallOptions | undefined) => NodeRedisCommandOptions | undefined {
  const own = (client as { _commandOptions?: { timeout?: unknown } })._commandOptions?.timeout;
  const clientTimeout = typeof own === "number" && own > 0 ? own : undefined;
  const hasTimeouts = own !== undefined;
  let withDeadline: { timeout: number } | undefined; // node-redis copies it into each command's own options
  return (call) => {
    if (!call) return undefined;
    const { timeout } = call;
    if (hasTimeouts && timeout !== undefined) {
      if (clientTimeout !== undefined && clientTimeout <= timeout) return undefined;
      if (withDeadline?.timeout !== timeout) withDeadline = { timeout };
      return withDeadline;
    }
    const signal = call.signal;
    return signal && { abortSignal: signal };
  };
}

/** node-redis 5 renamed quit() to close(); 4 only has quit(). */
function quitNodeRedis(client: { close?(): Promise<unknown>; quit?(): Promise<unknown> }): Promise<unknown> {
  return typeof client.close === "function" ? client.close() : client.quit!();
}
