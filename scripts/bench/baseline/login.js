// BENCHMARK FIXTURE, not for deployment: a login script in the style of
// the blog posts people copy today (ported from `request` to fetch): the
// password-realm grant, then the profile built from the id_token's claims.
// It carries their known bugs on purpose (an outage reported as a wrong
// password, `replace` not anchored, no app/user metadata): it is the
// baseline that Trickle's generated script is measured against.
function login(email, password, callback) {
  fetch(configuration.domain + '/oauth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'http://auth0.com/oauth/grant-type/password-realm',
      realm: 'Username-Password-Authentication',
      username: email,
      password: password,
      client_id: configuration.client_id,
      client_secret: configuration.client_secret,
      scope: 'openid profile email',
    }),
  })
    .then(function (res) {
      return res.json().then(function (body) {
        return { status: res.status, body: body };
      });
    })
    .then(function (answer) {
      if (answer.status !== 200) {
        return callback(new WrongUsernameOrPasswordError(email, answer.body.error_description));
      }
      var claims = JSON.parse(Buffer.from(answer.body.id_token.split('.')[1], 'base64').toString());
      callback(null, {
        user_id: claims.sub.replace('auth0|', ''),
        email: claims.email,
        email_verified: claims.email_verified,
        name: claims.name,
      });
    })
    .catch(function (err) {
      callback(new WrongUsernameOrPasswordError(email, err.message));
    });
}
