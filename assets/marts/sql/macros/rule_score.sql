-- The portal's count rule for linear and threshold metrics, for SQL: the same
-- arithmetic as the test oracle tools/scoring_oracle.py::metric_score (a test keeps them equal),
-- fed from ref.metrics (max_score, threshold, score_if_empty).
CREATE OR REPLACE MACRO marts.rule_score(max_score, threshold, score_if_empty, numerator,
                                         denominator) AS
    CASE WHEN denominator > 0 AND numerator IS NOT NULL
         THEN least(max_score,
                    max_score * (100 * numerator / denominator) / coalesce(threshold, 100))
         ELSE score_if_empty END;
