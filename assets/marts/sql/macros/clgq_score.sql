-- CLGQ (Dịch vụ công trực tuyến, 12 points) recomputed from the raw parameters of a
-- provide-online-tree parent row. A FIT, not a published formula: it reproduces all six
-- real observations (Phú Thọ, month/quarter/year 2026, province and procedure 2.000815)
-- within the portal's 2-decimal rounding, but the 2-point term and the 6 never-lost
-- points rest on one distinct observation (docs/index.md, "CLGQ: the formula, tested";
-- tools/clgq_fit.py). Keep the portal's score authoritative; use this to explain it.
--
--   4 × onlineDossierCount / onlineServiceTotal          procedures with online dossiers
-- + min(2, 2 × (partialCount + fullCount) / authorityCount / 0.8)   online provision, bar 80 %
-- + 6                                                    never below full in the samples
--
-- A zero denominator was never observed, so the score is NULL then (unknown, not 0).
CREATE OR REPLACE MACRO marts.clgq_score(authority_count, partial_count, full_count,
                                         online_dossier_count, online_service_total) AS
    CASE WHEN online_service_total > 0 AND authority_count > 0
         THEN 4.0 * online_dossier_count / online_service_total
              + least(2.0, 2.0 * (partial_count + full_count) / authority_count / 0.8)
              + 6.0
         END;
