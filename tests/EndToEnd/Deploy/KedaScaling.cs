using System.Globalization;
using System.Text.Json;

namespace PaliGemma2.DocPipeline.EndToEnd.Deploy;

/// <summary>
/// What KEDA's RabbitMQ scaler (protocol http, mode QueueLength) and the HPA it drives make of a queue, written from
/// KEDA's rabbitmq_scaler.go and the HPA algorithm: the metric is the management API's <c>messages</c> (ready +
/// unacknowledged); the scaler is active when it is above <c>activationValue</c>; the HPA asks for
/// ceil(metric / value) replicas (an AverageValue target), clamped to [max(min, 1), max] while active; inactive
/// for the cooldown, KEDA sets <c>minReplicaCount</c>.
/// </summary>
internal sealed record KedaRabbitMqTrigger(string QueueName, string? VhostName, double Value, double ActivationValue, int MinReplicas, int MaxReplicas)
{
    public static KedaRabbitMqTrigger From(JsonElement scaledObject)
    {
        var spec = scaledObject.GetProperty("spec");
        var trigger = Assert.Single(spec.GetProperty("triggers").EnumerateArray());
        Assert.Equal("rabbitmq", trigger.GetProperty("type").GetString());
        var meta = trigger.GetProperty("metadata");
        Assert.Equal("http", meta.GetProperty("protocol").GetString());
        Assert.Equal("QueueLength", meta.GetProperty("mode").GetString());
        Assert.False(meta.TryGetProperty("excludeUnacknowledged", out _), "unacknowledged messages must count");
        return new KedaRabbitMqTrigger(
            meta.GetProperty("queueName").GetString()!,
            meta.TryGetProperty("vhostName", out var v) ? v.GetString() : null,
            double.Parse(meta.GetProperty("value").GetString()!, CultureInfo.InvariantCulture),
            meta.TryGetProperty("activationValue", out var a) ? double.Parse(a.GetString()!, CultureInfo.InvariantCulture) : 0,
            spec.TryGetProperty("minReplicaCount", out var min) ? min.GetInt32() : 0,
            spec.TryGetProperty("maxReplicaCount", out var max) ? max.GetInt32() : 100);
    }

    /// <summary>The URL KEDA requests for a TriggerAuthentication <c>host</c> (getVhostAndPathFromURL + getQueueInfoViaHTTP).</summary>
    public Uri QueueUrl(Uri host)
    {
        var parts = host.AbsolutePath.Split('/');
        var vhostPath = "/" + parts[^1];
        var prefix = string.Join('/', parts[..^1].Where(p => p.Length > 0));
        if (VhostName is not null)
        {
            vhostPath = "/" + Uri.EscapeDataString(VhostName);
        }

        if (vhostPath is "" or "/" or "//")
        {
            vhostPath = "/%2F";
        }

        var root = host.GetLeftPart(UriPartial.Authority) + (prefix.Length > 0 ? "/" + prefix : "");
        return new Uri($"{root}/api/queues{vhostPath}/{Uri.EscapeDataString(QueueName)}");
    }

    public bool IsActive(long messages) => messages > ActivationValue;

    /// <summary>Replicas once KEDA and the HPA have settled on this backlog.</summary>
    public int DesiredReplicas(long messages) =>
        IsActive(messages)
            ? Math.Clamp((int)Math.Ceiling(messages / Value), Math.Max(MinReplicas, 1), MaxReplicas)
            : MinReplicas;
}
