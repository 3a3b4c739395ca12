// SPDX-License-Identifier: Apache-2.0
/**
 * One machine per infrastructure: the rules that bind an infrastructure to the first agent
 * instance (agent id + machine id) that presents itself, and the refusal another instance gets.
 * The hub service applies them at token exchange and heartbeat; the store keeps the binding.
 * An agent that sends no identity (faultd before the binding) is accepted only while the
 * infrastructure is unbound.
 */
import type { AgentIdentity } from '../protocol/messages.js';
import type { AgentBinding, InfraRecord } from './store.js';

/** Another agent instance than the bound one used the infrastructure's credentials (HTTP 409). */
export class AgentBindingConflict extends Error {
  readonly code = 'CONFLICT' as const;
}

/** The agent id as shown to people: enough to tell two instances apart. */
export function agentIdPrefix(agentId: string): string {
  return agentId.slice(0, 8);
}

/**
 * Whether `agent` is the instance of `binding`: the same agent id, and the same machine id when
 * both have one (an agent that cannot read /etc/machine-id this time is still itself).
 */
export function isBoundAgent(binding: AgentBinding, agent: AgentIdentity): boolean {
  if (binding.agentId !== agent.id) return false;
  return binding.machineId === undefined || agent.machineId === undefined || binding.machineId === agent.machineId;
}

/** The binding `agent` makes, from `at` (ms since the epoch). */
export function bindingOf(agent: AgentIdentity, at: number): AgentBinding {
  return { agentId: agent.id, ...(agent.machineId === undefined ? {} : { machineId: agent.machineId }), hostname: agent.hostname, since: at };
}

/** The refusal of `agent` on `infra`, bound to `binding`: names both hosts and how to hand over. */
export function bindingConflict(infra: Pick<InfraRecord, 'name'>, binding: AgentBinding, agent: AgentIdentity): AgentBindingConflict {
  const bound = `${binding.hostname} (agent ${agentIdPrefix(binding.agentId)}, since ${new Date(binding.since).toISOString()})`;
  const refused = `${agent.hostname} (agent ${agentIdPrefix(agent.id)})`;
  return new AgentBindingConflict(
    `infrastructure "${infra.name}" is bound to the agent on ${bound}; refused the agent on ${refused}, which uses the same credentials. ` +
      `If ${agent.hostname} replaces ${binding.hostname}, run on the hub: faultd hub infra release ${infra.name}`,
  );
}

/** The refusal of an agent without identity (faultd before the binding) on a bound `infra`. */
export function identityLessConflict(infra: Pick<InfraRecord, 'name'>, binding: AgentBinding): AgentBindingConflict {
  return new AgentBindingConflict(
    `infrastructure "${infra.name}" is bound to the agent on ${binding.hostname} (agent ${agentIdPrefix(binding.agentId)}); ` +
      `refused an agent that sends no identity (faultd 0.1.0) with the same credentials: upgrade it, or run on the hub: faultd hub infra release ${infra.name}`,
  );
}
