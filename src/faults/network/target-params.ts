// SPDX-License-Identifier: Apache-2.0
/** zod tunables for targeting (destinations, ports, exclusions), in Harness's text forms. */
import { z } from 'zod';

import { NO_PORTS, parseHostnames, parseIpTargets, parsePortSelection, type IpTarget, type PortSelection } from '../../net/addresses.js';
import type { Param } from '../params.js';

const listInput = z.union([z.string(), z.array(z.string())], { error: 'must be a comma list or a YAML list' }).optional();
/** Ports also come as YAML numbers: `80`, `[80, 443]`, `["!22", 8080]`. */
const portListInput = z
  .union([z.string(), z.number(), z.array(z.union([z.string(), z.number()]))], { error: 'must be a port (1–65535), a comma list such as "80,443" or "!22", or a YAML list of ports' })
  .optional();

function parsedWith<I, T>(input: z.ZodType<I | undefined>, parse: (v: I) => T, fallback: T) {
  return input.transform((value, ctx): T => {
    if (value === undefined) return fallback;
    try {
      return parse(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
      return z.NEVER;
    }
  });
}

function parsed<T>(parse: (v: string | readonly string[]) => T, fallback: T) {
  return parsedWith(listInput, parse, fallback);
}

export function ipTargetsParam(name: string, description: string): Param<IpTarget[]> {
  return {
    schema: parsed(parseIpTargets, []),
    doc: { name, type: 'address list', default: '-', bounds: 'IPv4/IPv6 addresses or CIDRs, each with optional |port|port', description },
  };
}

export function hostnamesParam(name: string, description: string): Param<string[]> {
  return { schema: parsed(parseHostnames, []), doc: { name, type: 'host list', default: '-', bounds: 'DNS names, resolved once at start', description } };
}

export function portsParam(name: string, description: string): Param<PortSelection> {
  return {
    schema: parsedWith(portListInput, parsePortSelection, NO_PORTS),
    doc: { name, type: 'port list', default: '-', bounds: '1–65535, as numbers, "80,443" or a list; a leading ! exempts instead of targets', description },
  };
}

export function enumParam<const T extends readonly [string, ...string[]]>(name: string, values: T, fallback: T[number], description: string): Param<T[number]> {
  return {
    schema: z.enum(values, { error: `must be one of ${values.join(', ')}` }).optional().transform((v) => v ?? fallback),
    doc: { name, type: 'enum', default: fallback, bounds: values.join(' | '), description },
  };
}
