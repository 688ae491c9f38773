import { and, asc, eq } from 'drizzle-orm';
import { projects, teamMembers, teams } from '@cairn/schema';
import type { Store } from '@cairn/store';
import type { Role } from '../access.ts';
import { cairnRole } from './roles.ts';

/** Each project of the user's teams (or of one team), with the user's role in the owning team. */
export async function projectRoles(store: Store, userId: string, onlyTeam?: string | null): Promise<Map<string, Role>> {
  const where = onlyTeam ? and(eq(teamMembers.userId, userId), eq(teamMembers.organizationId, onlyTeam)) : eq(teamMembers.userId, userId);
  const rows = await store
    .drizzle()
    .select({ projectId: projects.id, role: teamMembers.role })
    .from(teamMembers)
    .innerJoin(projects, eq(projects.teamId, teamMembers.organizationId))
    .where(where);
  const roles = new Map<string, Role>();
  for (const r of rows) {
    const role = cairnRole(r.role);
    if (role) roles.set(r.projectId, role);
  }
  return roles;
}

export interface TeamMembership {
  id: string;
  name: string;
  slug: string;
  role: Role;
  createdAt: Date;
}

export async function teamsOf(store: Store, userId: string): Promise<TeamMembership[]> {
  const rows = await store
    .drizzle()
    .select({ id: teams.id, name: teams.name, slug: teams.slug, createdAt: teams.createdAt, orgRole: teamMembers.role })
    .from(teamMembers)
    .innerJoin(teams, eq(teams.id, teamMembers.organizationId))
    .where(eq(teamMembers.userId, userId))
    .orderBy(asc(teams.name));
  return rows.flatMap(({ orgRole, ...t }) => {
    const role = cairnRole(orgRole);
    return role ? [{ ...t, role }] : [];
  });
}

/** The user's Cairn role in a team; null when not a member. */
export async function teamRole(store: Store, userId: string, teamId: string): Promise<Role | null> {
  const [row] = await store
    .drizzle()
    .select({ role: teamMembers.role })
    .from(teamMembers)
    .where(and(eq(teamMembers.userId, userId), eq(teamMembers.organizationId, teamId)));
  return row ? cairnRole(row.role) : null;
}
