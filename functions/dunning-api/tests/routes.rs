//! The function serves exactly the routes template.yaml sends it: a route missing from the
//! template is unreachable, one missing from the router answers 404 behind API Gateway.

#[test]
fn the_router_serves_the_template_s_routes() {
    let mut served = dunning_api::ROUTER.route_keys();
    served.sort();
    assert_eq!(served, test_support::http_routes("dunning-api"));
}
