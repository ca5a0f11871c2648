// A tiny package to publish to arca's npm repository and install back.
module.exports.greet = (name = "arca") => `hello from ${name}`;
