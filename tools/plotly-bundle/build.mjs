// Builds the dashboard's vendored scripts in src/greenwatch/dashboard/assets/vendor (README.md):
// - plotly-gw-<version>.min.js: plotly.js with only the trace types of entry.js, bundled and
//   minified as plotly.js builds its own dist files (esbuild, an IIFE defining window.Plotly);
// - regenerator-runtime-<version>.min.js: the one part of Dash's polyfill bundle that Dash's
//   scripts need in a current browser (the global regeneratorRuntime of its lazy components).
import { build, transform } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const vendor = path.join(here, '..', '..', 'src', 'greenwatch', 'dashboard', 'assets', 'vendor');
const versionOf = (name) =>
    JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')).version;

// A geo subplot projects its base layers (land, ocean, coastlines: thousands of points at the
// 50m resolution) again on every redraw, though a new figure for the same map only moves its
// markers: about half of a map's redraw. Here a base layer's path is projected again only when
// its data or the projection changed (a pan, a zoom, a resize, another resolution).
const GEO_RENDER = `    for (k in this.basePaths) {
        this.basePaths[k].attr('d', pathFn);
    }`;
const GEO_RENDER_KEPT = `    var view = [this.graphDiv._fullLayout[this.id].projection.type, projection.scale(),
        projection.translate(), projection.rotate(), projection.center(),
        projection.parallels(), projection.clipExtent(), projection.clipAngle(),
        projection.precision(), projection.tilt ? [projection.tilt(), projection.distance()] : '']
        .join(' ');
    for (k in this.basePaths) {
        var basePath = this.basePaths[k];
        var node = basePath.node();
        var datum = basePath.datum();
        var topo = datum && (datum.type === 'Feature' || datum.type === 'FeatureCollection');
        var source = topo ? this.topojson : JSON.stringify(datum);
        if (node.__gwView !== view || node.__gwSource !== source) {
            basePath.attr('d', pathFn);
            node.__gwView = view;
            node.__gwSource = source;
        }
    }`;
const keepBaseLayers = {
    name: 'geo-keep-base-layers',
    setup(b) {
        b.onLoad({ filter: /plots[\\/]geo[\\/]geo\.js$/ }, (args) => {
            const source = readFileSync(args.path, 'utf8');
            if (!source.includes(GEO_RENDER)) {
                throw new Error(`${args.path}: the base layer loop to patch is not there`);
            }
            return { contents: source.replace(GEO_RENDER, GEO_RENDER_KEPT), loader: 'js' };
        });
    }
};

const plotly = versionOf('plotly.js');
await build({
    entryPoints: [path.join(here, 'entry.js')],
    outfile: path.join(vendor, `plotly-gw-${plotly}.min.js`),
    bundle: true,
    minify: true,
    format: 'iife',
    globalName: 'Plotly',
    target: 'es2016',
    // As plotly.js' own esbuild config; CSS is only pulled in by the map (maplibre) traces.
    define: { global: 'window', 'define.amd': 'false' },
    loader: { '.css': 'empty' },
    plugins: [keepBaseLayers],
    legalComments: 'eof',
    banner: {
        js: `/* plotly.js v${plotly} (MIT), partial bundle for greenwatch: scatter, bar, ` +
            'scattergeo; a map redraw keeps its projected base layers. Built by ' +
            'tools/plotly-bundle; do not edit. */'
    },
    footer: { js: 'window.Plotly = Plotly;' },
    logLevel: 'info'
});

const regenerator = versionOf('regenerator-runtime');
const runtime = await transform(
    readFileSync(require.resolve('regenerator-runtime/runtime.js'), 'utf8'),
    { minify: true, target: 'es2016' }
);
writeFileSync(
    path.join(vendor, `regenerator-runtime-${regenerator}.min.js`),
    `/* regenerator-runtime v${regenerator}, Copyright (c) 2014-present, Facebook, Inc. ` +
        '(MIT). Built by tools/plotly-bundle; do not edit. */\n' + runtime.code
);
