module.exports = "arca";
