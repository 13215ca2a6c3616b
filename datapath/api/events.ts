// Events the agent reports (GET /v1/events): what changed on the host without anyone asking,
// each with its reason. One JSON object per event, also written as a log line.

interface EventBase {
  /** Increasing within one agent process; pass the last one seen as ?since= to get what follows. */
  id: number;
  time: string;
  reason: string;
}

/** A port's link went up or down (a tunnel's: type 'tunnel'). */
export interface LinkEvent extends EventBase {
  type: 'link' | 'tunnel';
  port: string;
  bridge?: string;
  portType?: string;
  link: string;
  from?: string;
}

/** A GuestVM changed state: crashed, restarted by the agent, stopped. */
export interface GuestEvent extends EventBase {
  type: 'guest';
  guest: string;
  state: string;
  from: string;
  restarts: number;
}

/** Stored settings that take effect only at the agent's next start. */
export interface SettingsEvent extends EventBase {
  type: 'settings';
  restartRequired: string[];
}

/**
 * A port reached its limit of learned MACs: its new source MACs are not learned (their frames
 * still switched, to unknown destinations flooded). At most one per port a minute while it lasts.
 */
export interface MacLimitEvent extends EventBase {
  type: 'macLimit';
  port: string;
  bridge: string;
  /** The port's limit (its own macLimit, else the bridge's macLimitPerPort). */
  limit: number;
  /** Source MACs refused since the port's previous event, and since the port was made. */
  refused: number;
  refusedTotal: number;
}

export type VhostnetEvent = LinkEvent | GuestEvent | SettingsEvent | MacLimitEvent;

export interface EventPage {
  events: VhostnetEvent[];
  /** The id to pass as ?since= next. */
  next: number;
  /** The oldest id still kept: a client whose since is older than this missed some. */
  oldest: number;
}

/** Longest ?wait= a client may ask for, seconds. */
export const EVENTS_MAX_WAIT = 60;

/** An event before the agent numbers and times it. */
export type NewEvent = VhostnetEvent extends infer E ? (E extends VhostnetEvent ? Omit<E, 'id' | 'time'> : never) : never;
