using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using PaliGemma2.DocPipeline.Tests.Shared;
using RabbitMQ.Client;

namespace PaliGemma2.DocPipeline.EndToEnd.Deploy;

/// <summary>
/// A real backlog in a real RabbitMQ queue, read the way KEDA reads it, against the committed ScaledObject (from the
/// kustomize output of the gpu overlay, not numbers copied here).
/// </summary>
public sealed class KedaBacklogTests
{
    private static (long Messages, long Ready, long Unacked) Read(JsonElement q) =>
        (q.GetProperty("messages").GetInt64(), q.GetProperty("messages_ready").GetInt64(), q.GetProperty("messages_unacknowledged").GetInt64());

    private static async Task<JsonElement> QueueInfoAsync(HttpClient http, Uri url)
    {
        using var response = await http.GetAsync(url);
        response.EnsureSuccessStatusCode();
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.Clone();
    }

    private static async Task<JsonElement> WaitForAsync(HttpClient http, Uri url, long messages, long unacked)
    {
        JsonElement last = default;
        Assert.True(await TestServices.EventuallyAsync(async () =>
        {
            last = await QueueInfoAsync(http, url);
            // The management API's figures are sampled (every few seconds): wait for the sample to catch up.
            return last.TryGetProperty("messages", out _) && Read(last).Messages == messages && Read(last).Unacked == unacked;
        }, TimeSpan.FromSeconds(60)), $"the management API never showed {messages} messages ({unacked} unacked): {last}");
        return last;
    }

    [Fact]
    public async Task The_replicas_KEDA_would_set_follow_a_real_backlog_in_flight_messages_included_and_return_to_zero()
    {
        var objects = DeployTools.Kustomize("gpu");
        var scaledObject = DeployTools.Single(objects, "ScaledObject", "docpipe-infer-table");
        var keda = KedaRabbitMqTrigger.From(scaledObject);
        Assert.Equal("infer-table", keda.QueueName);

        // The TriggerAuthentication's host is the management URL with the vhost as its path.
        var amqp = await TestServices.CreateVirtualHostAsync("keda");
        var management = TestServices.RabbitMqManagement;
        var host = new UriBuilder(management) { Path = amqp.AbsolutePath }.Uri;
        var url = keda.QueueUrl(host);

        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes(Uri.UnescapeDataString(management.UserInfo))));

        var factory = new ConnectionFactory { Uri = amqp };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        await channel.QueueDeclareAsync(keda.QueueName, durable: true, exclusive: false, autoDelete: false);

        // A backlog between one and max-1 pods' worth, so neither clamp decides the answer.
        var perPod = (int)keda.Value;
        var pods = Math.Max(2, keda.MaxReplicas - 1);
        var backlog = perPod * (pods - 1) + 1;
        for (var i = 0; i < backlog; i++)
        {
            await channel.BasicPublishAsync("", keda.QueueName, Encoding.UTF8.GetBytes($"{{\"n\":{i}}}"));
        }

        // One worker holds a prefetch's worth delivered and unacknowledged, as a busy GPU worker does.
        ulong lastTag = 0;
        for (var i = 0; i < perPod; i++)
        {
            lastTag = Assert.IsType<BasicGetResult>(await channel.BasicGetAsync(keda.QueueName, autoAck: false)).DeliveryTag;
        }

        var (messages, ready, unacked) = Read(await WaitForAsync(http, url, backlog, perPod));
        Assert.Equal(backlog, ready + unacked);
        Assert.True(keda.IsActive(messages));
        Assert.Equal(pods, keda.DesiredReplicas(messages));
        // Counting only ready messages (protocol amqp) would take a pod away from the batch in flight.
        Assert.Equal(pods - 1, keda.DesiredReplicas(ready));

        // Drained: everything acknowledged or gone, the scaler goes inactive and KEDA returns to minReplicaCount.
        await channel.BasicAckAsync(lastTag, multiple: true);
        await channel.QueuePurgeAsync(keda.QueueName);
        (messages, _, _) = Read(await WaitForAsync(http, url, 0, 0));
        Assert.False(keda.IsActive(messages));
        Assert.Equal(0, keda.DesiredReplicas(messages));

        // One lone page must still wake a worker from zero (activation is "more than activationValue").
        await channel.BasicPublishAsync("", keda.QueueName, Encoding.UTF8.GetBytes("{}"));
        (messages, _, _) = Read(await WaitForAsync(http, url, 1, 0));
        Assert.True(keda.IsActive(messages), $"activationValue {keda.ActivationValue} leaves a single message waiting forever at zero replicas");
        Assert.Equal(1, keda.DesiredReplicas(messages));
        await channel.QueuePurgeAsync(keda.QueueName);
        (messages, _, _) = Read(await WaitForAsync(http, url, 0, 0));
        Assert.Equal(0, keda.DesiredReplicas(messages));
    }
}
