// Anchors the vatp_eval library while the module is header-heavy.
namespace vatp::eval {}
