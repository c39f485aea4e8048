<?php
/*
 * Plugin Name: digest test fixture
 * Description: Loaded as a must-use plugin by tests/wordpress_site.py.
 *
 * The same site (one database) is served by several `php -S` servers, each told by
 * its environment how to behave:
 *   WP_FIXTURE_PERMALINKS=plain  plain permalinks (?p=N, ?cat=N&feed=rss2,
 *                                ?rest_route=/wp/v2/...)
 *   WP_FIXTURE_REST=closed       the REST API answers 401 to visitors, as security
 *                                plugins make it (the API's Link header stays)
 *   WP_FIXTURE_SEED_HOME=URL     the server the site was seeded under, named in guids
 */
if (getenv('WP_FIXTURE_PERMALINKS') === 'plain') {
    add_filter('pre_option_permalink_structure', '__return_empty_string');
}
if (getenv('WP_FIXTURE_SEED_HOME')) {
    // Stored guids name the seeding server (http://127.0.0.1:PORT/?p=N): name this one.
    add_filter('get_the_guid', function ($guid) {
        return str_replace(getenv('WP_FIXTURE_SEED_HOME') . '/', home_url('/'), $guid);
    });
}
if (getenv('WP_FIXTURE_REST') === 'closed') {
    add_filter('rest_authentication_errors', function ($result) {
        if (!empty($result) || is_user_logged_in()) {
            return $result;
        }
        return new WP_Error('rest_not_logged_in',
                            'Only authenticated users can access the REST API.',
                            ['status' => 401]);
    });
}
// No mail leaves a test site.
add_filter('pre_wp_mail', '__return_true');
