<?php
/*
 * Plugin Name: digest test fixture
 * Description: Loaded as a must-use plugin by tests/wordpress_site.py.
 *
 * The same site (one database) is served twice: once with pretty permalinks and
 * once, by the server started with WP_FIXTURE_PERMALINKS=plain, with plain
 * permalinks (?p=N, ?cat=N&feed=rss2, ?rest_route=/wp/v2/...).
 */
if (getenv('WP_FIXTURE_PERMALINKS') === 'plain') {
    add_filter('pre_option_permalink_structure', '__return_empty_string');
    // Stored guids name the other server (http://127.0.0.1:PORT/?p=N): name this one.
    add_filter('get_the_guid', function ($guid) {
        return str_replace(getenv('WP_FIXTURE_SEED_HOME') . '/', home_url('/'), $guid);
    });
}
// No mail leaves a test site.
add_filter('pre_wp_mail', '__return_true');
