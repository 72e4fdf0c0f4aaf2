import { byPrecedence, compileRoute, MalformedPathError, matchRoute, RouteTemplateError, splitPath } from '../../local/host/routes';

const match = (template: string, path: string): Record<string, string> | undefined => matchRoute(compileRoute(template, null), splitPath(path));

describe('route templates', () => {
  it('binds parameters and matches literals case-insensitively', () => {
    expect(match('webhooks/{provider}/{integrationId}', '/webhooks/github/int-1')).toEqual({ provider: 'github', integrationId: 'int-1' });
    expect(match('webhooks/{provider}/{integrationId}', '/WebHooks/github/int-1')).toEqual({ provider: 'github', integrationId: 'int-1' });
    expect(match('admin/tenants/{tenantId}', '/admin/tenants/t1/')).toEqual({ tenantId: 't1' });
  });

  it('does not match a different shape', () => {
    expect(match('webhooks/{provider}/{integrationId}', '/webhooks/github')).toBeUndefined();
    expect(match('webhooks/{provider}/{integrationId}', '/webhooks/github/a/b')).toBeUndefined();
    expect(match('admin/tenants/{tenantId}', '/admin/users/t1')).toBeUndefined();
  });

  it('percent-decodes values and rejects malformed encoding', () => {
    expect(match('items/{name}', '/items/a%20b%2Fc')).toEqual({ name: 'a b/c' });
    expect(() => match('items/{name}', '/items/%zz')).toThrow(MalformedPathError);
  });

  it('supports optional trailing parameters', () => {
    expect(match('runs/{integrationId}/{runId?}', '/runs/i1')).toEqual({ integrationId: 'i1' });
    expect(match('runs/{integrationId}/{runId?}', '/runs/i1/r1')).toEqual({ integrationId: 'i1', runId: 'r1' });
    expect(match('runs/{integrationId}/{runId?}', '/runs')).toBeUndefined();
  });

  it('supports catch-all and constraints', () => {
    expect(match('files/{*path}', '/files/a/b/c')).toEqual({ path: 'a/b/c' });
    expect(match('files/{*path}', '/files')).toEqual({});
    expect(match('n/{id:int}', '/n/42')).toEqual({ id: '42' });
    expect(match('n/{id:int}', '/n/abc')).toBeUndefined();
    expect(match('n/{id:int}', '/n/99999999999')).toBeUndefined();
    expect(match('g/{id:guid}', '/g/3f2504e0-4f89-11d3-9a0c-0305e82c3301')).toEqual({ id: '3f2504e0-4f89-11d3-9a0c-0305e82c3301' });
    expect(match('g/{id:guid}', '/g/nope')).toBeUndefined();
    expect(match('b/{flag:bool}', '/b/TRUE')).toEqual({ flag: 'TRUE' });
    expect(match('a/{word:alpha}', '/a/abc1')).toBeUndefined();
  });

  it('rejects templates the host would reject or that would be ambiguous', () => {
    expect(() => compileRoute('a/{x?}/b', null)).toThrow(RouteTemplateError);
    expect(() => compileRoute('a/{*rest}/b', null)).toThrow(/last segment/);
    expect(() => compileRoute('a/{x}/{x}', null)).toThrow(/appears twice/);
    expect(() => compileRoute('a/pre{x}', null)).toThrow(/whole \{parameter\}/);
    expect(() => compileRoute('a/{x:regex(^a$)}', null)).toThrow(RouteTemplateError);
    expect(() => compileRoute('a/{x:datetime}', null)).toThrow(/not supported/);
    expect(() => compileRoute('a//b', null)).toThrow(/empty segment/);
  });

  it('orders the most specific route first', () => {
    const routes = ['admin/{*rest}', 'admin/tenants/{tenantId}', 'admin/tenants/health', 'admin/tenants/{id:int}', 'admin/tenants/{x?}', 'admin/tenants']
      .map((t) => compileRoute(t, t))
      .sort(byPrecedence)
      .map((r) => r.template);
    expect(routes).toEqual(['admin/tenants', 'admin/tenants/health', 'admin/tenants/{id:int}', 'admin/tenants/{tenantId}', 'admin/tenants/{x?}', 'admin/{*rest}']);
  });
});
