// An example stack that runs QEMU test guests (examples/guests, examples/network) against a fresh
// agent, configured as a user would: the agent's endpoint, the test kernel and initrd, a socket
// directory, and a hugepage reservation a little above what the host has.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AgentProcess } from './agent-process';
import { guestImage } from './guest-image';
import { engineStack, type EngineStack } from './pulumi-stack';

export const nrHugepages = () => Number(fs.readFileSync('/proc/sys/vm/nr_hugepages', 'utf8'));
/** Pages the stacks reserve beyond the host's reservation, so a test can see them come and go. */
export const EXTRA_PAGES = 8;

export interface GuestStack {
  agent: AgentProcess;
  stack: EngineStack;
  /** Destroys what the stack still holds, stops the agent, removes both directories. */
  cleanup(): Promise<void>;
}

export async function guestStack(name: string, program: string): Promise<GuestStack> {
  const agent = await AgentProcess.start({ name: `e${name}` });
  const img = guestImage();
  const stack = await engineStack(name, program, {
    'vhostnet:endpoint': `unix:${agent.socket}`,
    kernel: img.kernel,
    initrd: img.initrd,
    socketDir: path.join(agent.dir, 'vm'),
    hugepages: nrHugepages() + EXTRA_PAGES,
  });
  return {
    agent,
    stack,
    async cleanup() {
      await stack.stack.destroy().catch(() => undefined);
      await agent.stop();
      await stack.remove();
      fs.rmSync(agent.dir, { recursive: true, force: true });
    },
  };
}
