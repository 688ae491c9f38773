import { adminAc, defaultStatements, memberAc, ownerAc } from 'better-auth/plugins/organization/access';
import { createAccessControl } from 'better-auth/plugins/access';
import type { Role } from '../access.ts';

/**
 * Cairn's roles live in better-auth's organization member role: owner and admin (which
 * manage the team in better-auth) are Cairn admins, member is an editor, and `viewer`
 * is a role added here with no better-auth permissions at all (it may not invite or
 * change members). A member row may hold several comma-separated roles; the highest wins.
 */
export const ac = createAccessControl(defaultStatements);

export const orgRoles = {
  owner: ownerAc,
  admin: adminAc,
  member: memberAc,
  viewer: ac.newRole({ organization: [], member: [], invitation: [], team: [], ac: [] }),
};

const FROM_ORG: Record<string, Role> = { owner: 'admin', admin: 'admin', member: 'editor', viewer: 'viewer' };
const RANK: Record<Role, number> = { viewer: 1, editor: 2, admin: 3 };

/** The Cairn role a member's better-auth role string grants; null when it names none Cairn knows. */
export function cairnRole(orgRole: string): Role | null {
  let best: Role | null = null;
  for (const r of orgRole.split(',')) {
    const role = FROM_ORG[r.trim()];
    if (role && (!best || RANK[role] > RANK[best])) best = role;
  }
  return best;
}

/** The better-auth role that stores a Cairn role (admin is stored as admin: the team's creator alone is owner). */
export function orgRoleFor(role: Role): 'admin' | 'member' | 'viewer' {
  return role === 'admin' ? 'admin' : role === 'editor' ? 'member' : 'viewer';
}

export const ROLES = ['viewer', 'editor', 'admin'] as const satisfies readonly Role[];
