/** The demo's pages: plain HTML strings, a little CSS, readable on a phone. */
import type { SessionInfo } from "sessionkit";

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:0 auto;padding:1rem;color:#222}
h1{font-size:1.4rem}mark{display:block;padding:.5rem .75rem;background:#fff3bf;border-radius:.4rem}
form{display:inline}input,button{font:inherit;padding:.35rem .6rem}
ul{list-style:none;padding:0}li{border:1px solid #ddd;border-radius:.5rem;padding:.6rem .8rem;margin:.6rem 0}
li.current{border-color:#2b8a3e;background:#ebfbee}small{color:#666}nav a{margin-right:1rem}`;

export function page(title: string, flash: string | undefined, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(title === "sessionkit demo" ? title : `${title} · sessionkit demo`)}</title>
<style>${STYLE}</style></head><body><h1>${escape(title)}</h1>
${flash ? `<mark role="status">${escape(flash)}</mark>` : ""}
${body}</body></html>`;
}

export function homeBody(user: string | undefined, visits: number): string {
  const status = user
    ? `<p>Signed in as <b>${escape(user)}</b>. Visits this session: ${visits}.</p>
<nav><a href="/sessions">Your sessions</a></nav>
<p><form method="post" action="/signout"><button>Sign out</button></form></p>`
    : `<p>Not signed in. Visits this session: ${visits}.</p>
<form method="post" action="/signin"><input name="user" placeholder="name" aria-label="name" required maxlength="64">
<label><input type="checkbox" name="remember"> Remember me</label> <button>Sign in</button></form>`;
  return status;
}

export function sessionsBody(sessions: SessionInfo[], currentHandle: string, now: number): string {
  const items = sessions.map((info) => sessionItem(info, info.handle === currentHandle, now)).join("\n");
  const others = sessions.length > 1
    ? `<form method="post" action="/sessions/revoke-others"><button>Sign out everywhere else</button></form>`
    : "";
  return `<nav><a href="/">Home</a></nav>
<p>${sessions.length === 1 ? "You are signed in on 1 device." : `You are signed in on ${sessions.length} devices.`}</p>
<ul>${items}</ul>${others}`;
}

function sessionItem(info: SessionInfo, current: boolean, now: number): string {
  const action = current
    ? `<b>This device</b>`
    : `<form method="post" action="/sessions/revoke"><input type="hidden" name="handle" value="${escape(info.handle)}"><button>Sign out</button></form>`;
  return `<li${current ? ' class="current"' : ""} data-handle="${escape(info.handle)}">
<div><b>${escape(describeBrowser(info.userAgent))}</b> · ${escape(info.ip ?? "unknown IP")}</div>
<small>signed in ${ago(info.signedInAt, now)} · last seen ${ago(info.lastSeenAt, now)}${info.persistent === false ? " · until the browser closes" : ""}${info.bound ? ` · <span class="bound">bound to ${current ? "this" : "its"} device</span>` : ""}</small>
<div>${action}</div></li>`;
}

export function confirmBody(): string {
  return `<nav><a href="/sessions">Your sessions</a></nav>
<p>Signing out your other sessions needs a recent sign-in. Type your name again to confirm it is you.</p>
<form method="post" action="/confirm"><input name="user" placeholder="name" aria-label="name" required maxlength="64"> <button>Confirm</button></form>`;
}

export function unsupportedBody(reason: string): string {
  return `<nav><a href="/">Home</a></nav><p>This store cannot list sessions: ${escape(reason)}</p>`;
}

/** "Chrome on Linux": enough to recognise one's own devices; the full string is in the store. */
export function describeBrowser(userAgent: string | undefined): string {
  if (!userAgent) return "Unknown browser";
  const browser = /Edg\//.test(userAgent) ? "Edge"
    : /Firefox\//.test(userAgent) ? "Firefox"
    : /Chrom(e|ium)\//.test(userAgent) ? "Chrome"
    : /Safari\//.test(userAgent) ? "Safari"
    : "Browser";
  const os = /Android/.test(userAgent) ? "Android"
    : /iPhone|iPad/.test(userAgent) ? "iOS"
    : /Windows/.test(userAgent) ? "Windows"
    : /Mac OS X/.test(userAgent) ? "macOS"
    : /Linux/.test(userAgent) ? "Linux"
    : "an unknown system";
  return `${browser} on ${os}`;
}

function ago(date: Date, now: number): string {
  const seconds = Math.max(0, Math.round((now - date.getTime()) / 1000));
  const text = seconds < 60 ? "just now" : seconds < 3600 ? `${Math.floor(seconds / 60)} min ago` : `${Math.floor(seconds / 3600)} h ago`;
  return `<time datetime="${date.toISOString()}" title="${date.toISOString()}">${text}</time>`;
}
