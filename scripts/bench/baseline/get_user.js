// BENCHMARK FIXTURE, not for deployment: a get_user script in the style of
// the blog posts people copy today: a Management API token (cached on
// global, as the careful ones do), then users-by-email, first result taken.
// Its known bugs are kept on purpose (first user of any connection, prefix
// `replace` not anchored): it is the baseline for the benchmark.
function getByEmail(email, callback) {
  function token() {
    var cached = global.baselineToken;
    if (cached && cached.expiresAt > Date.now()) return Promise.resolve(cached.value);
    return fetch(configuration.domain + '/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'client_credentials',
        client_id: configuration.client_id,
        client_secret: configuration.client_secret,
        audience: configuration.domain + '/api/v2/',
      }),
    })
      .then(function (res) { return res.json(); })
      .then(function (body) {
        global.baselineToken = { value: body.access_token, expiresAt: Date.now() + (body.expires_in - 60) * 1000 };
        return body.access_token;
      });
  }

  token()
    .then(function (accessToken) {
      return fetch(configuration.domain + '/api/v2/users-by-email?email=' + encodeURIComponent(email.toLowerCase()), {
        headers: { authorization: 'Bearer ' + accessToken },
      });
    })
    .then(function (res) { return res.json(); })
    .then(function (users) {
      var user = users[0];
      if (!user) return callback(null);
      callback(null, {
        user_id: user.user_id.replace('auth0|', ''),
        email: user.email,
        email_verified: user.email_verified,
        name: user.name,
        user_metadata: user.user_metadata,
        app_metadata: user.app_metadata,
      });
    })
    .catch(function (err) { callback(err); });
}
