namespace PaliGemma2.DocPipeline.ServiceDefaults;

/// <summary>Tags that decide which health checks an endpoint runs.</summary>
public static class HealthTags
{
    /// <summary>
    /// Checks <c>/health/ready</c> runs (database, broker, models). MassTransit tags its bus check "ready" too,
    /// so the broker joins without code here.
    /// </summary>
    public const string Ready = "ready";
}
