// SPDX-License-Identifier: Apache-2.0
/**
 * The faultd hub's web console: asks for the session (GET /api/v1/session), shows the login page
 * without one, and otherwise the views, with the operator's name and role and only the actions
 * the role may take (the hub checks every call anyway).
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';

import './styles.css';
import { Account } from './account.js';
import { Audit, Users } from './admin.js';
import { api, ApiError, can, setCsrfToken, type Session } from './api.js';
import { ExperimentEditor, Experiments } from './experiments.js';
import { Infras } from './infras.js';
import { Login } from './login.js';
import { QueueRun } from './queue.js';
import { href, useRoute, type Route } from './router.js';
import { Run } from './run.js';
import { Runs } from './runs.js';
import { Tokens } from './tokens.js';
import { ErrorBox } from './widgets.js';

function View({ route, session, onSession }: { route: Route; session: Session; onSession: (session: Session) => void }) {
  const [view = 'runs', id] = route.parts;
  const { operator } = session;
  if (view === 'infras') return <Infras operator={operator} />;
  if (view === 'runs' && id) return <Run key={id} id={id} operator={operator} />;
  if (view === 'experiments' && id) return <ExperimentEditor key={id} name={id} operator={operator} />;
  if (view === 'experiments') return <Experiments operator={operator} />;
  if (view === 'queue' && can(operator, 'operator')) return <QueueRun route={route} />;
  if (view === 'audit' && can(operator, 'admin')) return <Audit />;
  if (view === 'users' && can(operator, 'admin')) return <Users operator={operator} />;
  if (view === 'tokens' && can(operator, 'admin')) return <Tokens />;
  if (view === 'account') return <Account operator={operator} onSession={onSession} />;
  return <Runs route={route} />;
}

function App() {
  const route = useRoute();
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [menuOpen, setMenuOpen] = useState(false);
  const login = (s: Session | null): void => {
    setCsrfToken(s?.csrfToken ?? '');
    setSession(s);
  };
  useEffect(() => {
    api.session().then(login).catch((e: unknown) => {
      if (e instanceof ApiError && e.status === 401) login(null);
      else setError(e);
    });
  }, []);
  useEffect(() => setMenuOpen(false), [route]);
  if (session === undefined) return error ? <main><ErrorBox error={error} /></main> : <main><p>Loading…</p></main>;
  if (session === null) return <Login onLogin={login} />;
  const logout = async (): Promise<void> => {
    try {
      await api.logout();
    } finally {
      login(null);
    }
  };
  const [view = 'runs'] = route.parts;
  const link = (target: string, label: string) => <li><a href={href(target)} aria-current={view === target ? 'page' : undefined}>{label}</a></li>;
  return (
    <>
      <header class="top">
        <a class="brand" href={href('runs')}>faultd hub</a>
        <button type="button" class="menu-toggle" aria-expanded={menuOpen} aria-controls="main-nav" onClick={() => setMenuOpen(!menuOpen)}>Menu</button>
        <nav id="main-nav" aria-label="main" class={menuOpen ? 'open' : ''}>
          <ul>
            {link('runs', 'Runs')}
            {link('infras', 'Infrastructures')}
            {link('experiments', 'Experiments')}
            {can(session.operator, 'operator') && link('queue', 'Queue a run')}
            {can(session.operator, 'admin') && link('users', 'Operators')}
            {can(session.operator, 'admin') && link('tokens', 'API tokens')}
            {can(session.operator, 'admin') && link('audit', 'Audit log')}
            {link('account', 'Account')}
          </ul>
        </nav>
        <div class="who">
          <span data-testid="operator">{session.operator.name} <span class="role">({session.operator.role})</span></span>
          <button type="button" onClick={() => void logout()}>Log out</button>
        </div>
      </header>
      <main id="content"><View route={route} session={session} onSession={login} /></main>
    </>
  );
}

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<App />, root);
}
