'use strict';
// The trace types greenwatch's dashboards draw: scatter (in the core), bar and scattergeo.
var Plotly = require('plotly.js/lib/core');

Plotly.register([require('plotly.js/lib/bar'), require('plotly.js/lib/scattergeo')]);

module.exports = Plotly;
